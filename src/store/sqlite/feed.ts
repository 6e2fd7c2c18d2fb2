// Cross-process wake-ups for the SQLite engine. The serving process (openStore `listen: true`)
// listens on a Unix stream socket (default dataDir/feed.sock); any other process that commits a
// mutation on the same database (`pigeon deliver`, the admin CLI) connects after the commit and
// writes one line of JSON: {"m":[[accountId, mailboxId], ...]}. The server republishes each pair on
// its ChangeFeed as {kind:'mailbox-changed'}; readers then read the journal for the truth
// (changes.ts). Nothing here is needed for correctness of the data, only for promptness: a sender
// ignores a missing or dead socket (ENOENT, ECONNREFUSED), and a stale socket file left by a
// crashed server is replaced at the next listen.
// Bounds: a line is at most 64 KiB and 1000 pairs; a connection lives at most 5 s.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../../shared/logger.js';

const maxLine = 64 * 1024;
const maxPairs = 1000;
const connectionTimeoutMs = 5000;

/** sun_path holds 108 bytes on Linux (104 on BSDs); Node silently truncates longer paths. */
const maxSocketPath = 100;

/**
 * dataDir/feed.sock, or, when that path is too long for a Unix socket, a name in the temp folder
 * derived from the database file's real path (every process on the same database agrees on it).
 */
export function feedSocketPath(dataDir: string, databaseFile: string): string {
  const preferred = path.resolve(dataDir, 'feed.sock');
  if (Buffer.byteLength(preferred) <= maxSocketPath) return preferred;
  let real = path.resolve(databaseFile);
  try {
    real = fs.realpathSync(real);
  } catch {
    // not created yet: the resolved path is what every process computes too
  }
  return path.join(os.tmpdir(), `pigeon-feed-${createHash('sha256').update(real).digest('hex').slice(0, 16)}.sock`);
}

export interface MailboxRef {
  accountId: number;
  mailboxId: number;
}

export class FeedListener {
  #server: net.Server;
  #path: string;
  #sockets = new Set<net.Socket>();

  private constructor(server: net.Server, path: string) {
    this.#server = server;
    this.#path = path;
  }

  /** Listens on `socketPath`; returns undefined (and logs) when another live process already does. */
  static async start(socketPath: string, onChange: (refs: MailboxRef[]) => void, logger: Logger): Promise<FeedListener | undefined> {
    const server = net.createServer();
    const listener = new FeedListener(server, socketPath);
    server.on('connection', (socket) => listener.#accept(socket, onChange, logger));
    server.on('error', (err) => logger.warn({ err }, 'store feed socket error'));
    const listen = () =>
      new Promise<void>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(socketPath, () => {
          server.off('error', onError);
          resolve();
        });
      });
    try {
      try {
        await listen();
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        if (await isAlive(socketPath)) {
          logger.warn({ socketPath }, 'another process already listens for store changes; this one will not receive them');
          return undefined;
        }
        fs.rmSync(socketPath, { force: true });
        await listen();
      }
      // Only this user's processes may wake the server.
      fs.chmodSync(socketPath, 0o600);
    } catch (err) {
      // Promptness only: the server still works, it just does not hear other processes' changes.
      logger.warn({ err, socketPath }, 'cannot listen for other processes\' store changes');
      server.close();
      return undefined;
    }
    return listener;
  }

  #accept(socket: net.Socket, onChange: (refs: MailboxRef[]) => void, logger: Logger): void {
    this.#sockets.add(socket);
    socket.setTimeout(connectionTimeoutMs, () => socket.destroy());
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > maxLine) {
        logger.warn('store feed message too long; dropped');
        socket.destroy();
        return;
      }
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        const refs = parseLine(line);
        if (refs) onChange(refs);
        else logger.warn('malformed store feed message dropped');
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    // server.close() unlinks the socket file on most platforms; make sure.
    fs.rmSync(this.#path, { force: true });
  }
}

function parseLine(line: string): MailboxRef[] | undefined {
  let data: unknown;
  try {
    data = JSON.parse(line);
  } catch {
    return undefined;
  }
  const m = (data as { m?: unknown } | null)?.m;
  if (!Array.isArray(m) || m.length > maxPairs) return undefined;
  const refs: MailboxRef[] = [];
  for (const pair of m) {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((n) => Number.isSafeInteger(n) && n >= 0)) return undefined;
    refs.push({ accountId: pair[0] as number, mailboxId: pair[1] as number });
  }
  return refs;
}

function isAlive(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Tells the listening process (if any) that these mailboxes changed. Never rejects. */
export function notifyFeed(socketPath: string, refs: readonly MailboxRef[]): Promise<void> {
  if (refs.length === 0) return Promise.resolve();
  const pairs = refs.slice(0, maxPairs).map((r) => [r.accountId, r.mailboxId]);
  const line = `${JSON.stringify({ m: pairs })}\n`;
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.setTimeout(connectionTimeoutMs, () => s.destroy());
    s.once('connect', () => s.end(line));
    s.once('error', () => resolve()); // ENOENT / ECONNREFUSED: nobody listens, fine
    s.once('close', () => resolve());
  });
}
