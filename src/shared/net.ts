// Socket plumbing shared by every listener (no protocol knowledge): binding a configured
// "addr:port" with a one-line error naming the config key, counting connections per address,
// and upgrading a plain socket to TLS in place (STARTTLS / STLS).
import type { Server, Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';

export interface HostPort {
  host: string;
  port: number;
}

/** Parse "addr:port" / "[v6]:port" (validated by the config schema). */
export function parseHostPort(value: string): HostPort {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(value);
  if (!m) throw new Error(`not an "addr:port": ${value}`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

export class ListenError extends Error {
  override name = 'ListenError';
}

/** Told of every accepted connection and its end (metrics). */
export interface ConnectionObserver {
  opened(): void;
  closed(): void;
}

/** Listen on a configured address; a failure is one line naming the listener and the key to change. */
export function listenOn(server: Server, options: { name: string; address: string; configKey?: string; observer?: ConnectionObserver | undefined }): Promise<HostPort> {
  const { host, port } = parseHostPort(options.address);
  const observer = options.observer;
  if (observer) {
    server.on('connection', (socket: Socket) => {
      observer.opened();
      socket.once('close', () => observer.closed());
    });
  }
  const key = options.configKey ?? `listen.${options.name}`;
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      const why =
        err.code === 'EADDRINUSE'
          ? 'address already in use'
          : err.code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : err.code === 'EADDRNOTAVAIL'
              ? 'address not available on this machine'
              : err.message;
      reject(new ListenError(`cannot listen for ${options.name} on ${options.address}: ${why}; change ${key} in the config (or set it to "" to disable)`));
    };
    const onListening = () => {
      server.off('error', onError);
      const a = server.address();
      resolve(typeof a === 'object' && a ? { host: a.address, port: a.port } : { host, port });
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host, port });
  });
}

/** Counts live connections per key (remote address, account); refuses beyond a maximum. */
export class ConnectionCounter {
  #counts = new Map<string, number>();
  readonly max: number;
  constructor(max: number) {
    this.max = max;
  }
  /** Take a slot; returns a release function, or null when the key is at its maximum. */
  acquire(key: string): (() => void) | null {
    const n = this.#counts.get(key) ?? 0;
    if (n >= this.max) return null;
    this.#counts.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#counts.get(key) ?? 1) - 1;
      if (left <= 0) this.#counts.delete(key);
      else this.#counts.set(key, left);
    };
  }
  count(key: string): number {
    return this.#counts.get(key) ?? 0;
  }
  total(): number {
    let t = 0;
    for (const n of this.#counts.values()) t += n;
    return t;
  }
}

/**
 * Upgrade a plain socket to TLS (STARTTLS). The caller must have stopped reading from `socket`
 * and dropped every byte received before this call (ARCHITECTURE: pipelined plaintext is
 * discarded). Resolves once the handshake completes.
 */
export function upgradeToTls(socket: Socket, secureContext: SecureContext, options: { timeoutMs?: number } = {}): Promise<TLSSocket> {
  socket.removeAllListeners('data');
  const secure = new TLSSocket(socket, { isServer: true, secureContext });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      secure.destroy();
      reject(new Error('TLS handshake timed out'));
    }, options.timeoutMs ?? 30_000);
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('error', onError);
      resolve(secure);
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    secure.once('error', onError);
  });
}

/** Normalise an IPv4-mapped IPv6 address ("::ffff:127.0.0.1" → "127.0.0.1"). */
export function remoteAddressOf(socket: Socket): string {
  const a = socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
