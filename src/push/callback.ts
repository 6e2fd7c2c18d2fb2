// Callback safety and the one HTTP client push uses (PUSH.md "Safety").
//
// - A callback URL is https, at most maxUrlLength, without credentials; its host must resolve only
//   to public unicast addresses (no loopback, private, link-local, unique-local, CGNAT, multicast…).
//   A host named in the domain's allowed callback hosts is exempt from both rules.
// - The address check is made again at connect time by the socket's own lookup, so a name that
//   resolves differently later (DNS rebinding) is still refused.
// - Requests time out after 10 s, never follow redirects, and read at most maxResponseBytes of the
//   answer (the rest is dropped with the connection).
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

export const maxUrlLength = 2048;
export const callbackTimeoutMs = 10_000;
export const maxResponseBytes = 64 * 1024;

/** Why a callback URL is refused: 'invalid' (not an acceptable URL, 422) or 'forbidden' (host not allowed, 403). */
export class CallbackRefused extends Error {
  override name = 'CallbackRefused';
  readonly kind: 'invalid' | 'forbidden';
  constructor(kind: 'invalid' | 'forbidden', message: string) {
    super(message);
    this.kind = kind;
  }
}

export interface CheckedUrl {
  url: URL;
  /** The host is in the allowed callback hosts (exempt from the https and address rules). */
  allowed: boolean;
}

function bareHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();
}

/** True when the host (or host:port) is named in the allowed hosts. */
export function isAllowedHost(url: URL, allowedHosts: readonly string[]): boolean {
  const host = bareHost(url);
  const withPort = url.port ? `${host}:${url.port}` : host;
  return allowedHosts.some((h) => {
    const a = h.trim().toLowerCase().replace(/^\[(.*)\](:\d+)?$/, '$1$2');
    return a === host || a === withPort || a === url.host.toLowerCase();
  });
}

/** Only public unicast addresses may be called (RFC 6890 special-purpose ranges refused). */
export function isPublicAddress(address: string): boolean {
  let ip: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    ip = ipaddr.parse(address);
  } catch {
    return false;
  }
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  return ip.range() === 'unicast';
}

/** Parse and check a callback URL's form (not its addresses). Throws CallbackRefused. */
export function checkCallbackUrl(text: string, allowedHosts: readonly string[]): CheckedUrl {
  if (typeof text !== 'string' || text.length === 0 || text.length > maxUrlLength) throw new CallbackRefused('invalid', `must be a URL of at most ${maxUrlLength} characters`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CallbackRefused('invalid', 'is not a URL');
  }
  if (url.username || url.password) throw new CallbackRefused('invalid', 'must not carry credentials');
  const allowed = isAllowedHost(url, allowedHosts);
  if (url.protocol !== 'https:' && !(allowed && url.protocol === 'http:')) throw new CallbackRefused('invalid', 'must be an https URL');
  if (url.hash) throw new CallbackRefused('invalid', 'must not have a fragment');
  return { url, allowed };
}

function lookupAll(host: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
}

/** Resolve the host and refuse it when any address is not public (unless allowed). */
export async function checkCallbackTarget(checked: CheckedUrl): Promise<void> {
  if (checked.allowed) return;
  const host = bareHost(checked.url);
  let addresses: LookupAddress[];
  try {
    addresses = net.isIP(host) ? [{ address: host, family: net.isIP(host) }] : await lookupAll(host);
  } catch {
    throw new CallbackRefused('forbidden', `host ${host} does not resolve`);
  }
  if (addresses.length === 0) throw new CallbackRefused('forbidden', `host ${host} does not resolve`);
  const bad = addresses.find((a) => !isPublicAddress(a.address));
  if (bad) throw new CallbackRefused('forbidden', `host ${host} resolves to a non-public address (${bad.address}); name it in the domain's allowed callback hosts to permit it`);
}

export interface CallbackRequest {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: Buffer;
  /** Skip the address rules (the host is in the domain's allowed hosts). */
  allowPrivate: boolean;
}

export interface CallbackResponse {
  status: number;
  headers: Record<string, string>;
  /** At most maxResponseBytes. */
  body: Buffer;
}

/** How push sends a request; the default is safeTransport. Errors reject (network, refusal, timeout). */
export type PushTransport = (request: CallbackRequest) => Promise<CallbackResponse>;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** A socket lookup that refuses non-public addresses. */
function guardedLookup(hostname: string, options: { all?: boolean }, callback: LookupCallback): void {
  dnsLookup(hostname, { all: true, verbatim: true }, (err, addresses) => {
    if (err) return callback(err, '');
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    if (bad || addresses.length === 0) {
      const e: NodeJS.ErrnoException = new CallbackRefused('forbidden', `host ${hostname} resolves to a non-public address${bad ? ` (${bad.address})` : ''}`);
      e.code = 'EPUSHFORBIDDEN';
      return callback(e, '');
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

/** Keep-alive connection pools (relays get one notification after another); the guarded ones
 *  check every new connection's addresses. Idle sockets close after 30 s and never hold the process. */
const agents = {
  guarded: { http: new http.Agent({ keepAlive: true, maxSockets: 50, timeout: 30_000, lookup: guardedLookup as never }), https: new https.Agent({ keepAlive: true, maxSockets: 50, timeout: 30_000, lookup: guardedLookup as never }) },
  open: { http: new http.Agent({ keepAlive: true, maxSockets: 50, timeout: 30_000 }), https: new https.Agent({ keepAlive: true, maxSockets: 50, timeout: 30_000 }) },
};

/** The default transport: node:http(s), 10 s overall timeout, no redirects, capped response read. */
export const safeTransport: PushTransport = (request) =>
  new Promise((resolve, reject) => {
    let url: URL;
    try {
      url = new URL(request.url);
    } catch {
      return reject(new CallbackRefused('invalid', 'is not a URL'));
    }
    const host = bareHost(url);
    if (!request.allowPrivate && net.isIP(host) && !isPublicAddress(host)) {
      return reject(new CallbackRefused('forbidden', `address ${host} is not public`));
    }
    const mod = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
    if (!mod) return reject(new CallbackRefused('invalid', 'must be an https URL'));
    const pool = request.allowPrivate ? agents.open : agents.guarded;
    const req = mod.request(url, {
      method: request.method,
      headers: { ...request.headers, 'Content-Length': String(request.body.length) },
      agent: url.protocol === 'https:' ? pool.https : pool.http,
    });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no answer within ${callbackTimeoutMs / 1000} s`)), callbackTimeoutMs);
    req.on('error', (err) => fail(err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) });
        // A truncated answer's connection cannot be reused; a complete one goes back to the pool.
        if (size >= maxResponseBytes) res.destroy();
      };
      res.on('data', (chunk: Buffer) => {
        const room = maxResponseBytes - size;
        if (room > 0) chunks.push(chunk.subarray(0, room));
        size += chunk.length;
        if (size >= maxResponseBytes) finish();
      });
      res.on('end', finish);
      res.on('error', (err) => fail(err));
    });
    req.end(request.body);
  });
