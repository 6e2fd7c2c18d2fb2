// Test parts for push: a real relay (an HTTP server on 127.0.0.1 that records requests and answers
// as scripted), an HTTPS client for the Subscribe URL, and a Web Push subscriber holding its own
// keys that decrypts RFC 8291 payloads and checks RFC 8292 VAPID tokens.
import http from 'node:http';
import https from 'node:https';
import { createECDH, createDecipheriv, createPublicKey, hkdfSync, randomBytes, verify, type ECDH } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TestPigeon } from '../harness/pigeon.js';

export interface RelayRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface TestRelay {
  url: string;
  origin: string;
  /** Requests not yet taken by next(). */
  readonly received: RelayRequest[];
  /** Answer the next requests with these statuses (then 200). */
  script(...answers: Array<number | { status: number; headers?: Record<string, string> }>): void;
  /** The next request (waits for it; rejects after timeoutMs). */
  next(timeoutMs?: number): Promise<RelayRequest>;
  /** Take requests until one matches. */
  until(match: (r: RelayRequest) => boolean, timeoutMs?: number): Promise<RelayRequest>;
  close(): Promise<void>;
}

export async function startTestRelay(): Promise<TestRelay> {
  const queue: RelayRequest[] = [];
  const waiters: Array<(r: RelayRequest) => void> = [];
  const answers: Array<{ status: number; headers?: Record<string, string> }> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = answers.shift() ?? { status: 200 };
      res.writeHead(answer.status, answer.headers ?? {});
      res.end();
      const r: RelayRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      const w = waiters.shift();
      if (w) w(r);
      else queue.push(r);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const relay: TestRelay = {
    origin: `http://127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}/n/${randomBytes(6).toString('hex')}`,
    received: queue,
    script(...list) {
      for (const a of list) answers.push(typeof a === 'number' ? { status: a } : a);
    },
    next(timeoutMs = 10_000) {
      const r = queue.shift();
      if (r) return Promise.resolve(r);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(done), 1);
          reject(new Error('the relay received nothing'));
        }, timeoutMs);
        const done = (x: RelayRequest) => {
          clearTimeout(timer);
          resolve(x);
        };
        waiters.push(done);
      });
    },
    async until(match, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const r = await relay.next(Math.max(1, end - Date.now()));
        if (match(r)) return r;
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return relay;
}

export interface ApiAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: Record<string, unknown> | undefined;
}

/** A request to Pigeon's HTTPS listener (self-signed certificate). */
export function api(port: number, method: string, path: string, options: { auth?: [string, string]; body?: unknown; raw?: string } = {}): Promise<ApiAnswer> {
  const body = options.raw !== undefined ? options.raw : options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (options.auth) headers['authorization'] = 'Basic ' + Buffer.from(`${options.auth[0]}:${options.auth[1]}`).toString('base64');
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, method, path, headers, rejectUnauthorized: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A Web Push user agent's keys (RFC 8291 §3.1–3.2) and the matching decryption. */
export class WebPushSubscriber {
  readonly #ecdh: ECDH = createECDH('prime256v1');
  readonly publicKey: Buffer;
  readonly auth = randomBytes(16);

  constructor() {
    this.publicKey = this.#ecdh.generateKeys();
  }

  get keys(): { p256dh: string; auth: string } {
    return { p256dh: this.publicKey.toString('base64url'), auth: this.auth.toString('base64url') };
  }

  /** RFC 8188 §2 header + RFC 8291 §3.4 key derivation; one record, padding delimiter 0x02. */
  decrypt(body: Buffer): string {
    const salt = body.subarray(0, 16);
    const rs = body.readUInt32BE(16);
    const idlen = body[20]!;
    const asPublic = body.subarray(21, 21 + idlen);
    const record = body.subarray(21 + idlen);
    if (record.length > rs) throw new Error('more than one record');
    const ecdhSecret = this.#ecdh.computeSecret(asPublic);
    const keyInfo = Buffer.concat([Buffer.from('WebPush: info\0'), this.publicKey, asPublic]);
    const ikm = Buffer.from(hkdfSync('sha256', ecdhSecret, this.auth, keyInfo, 32));
    const cek = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: aes128gcm\0'), 16));
    const nonce = Buffer.from(hkdfSync('sha256', ikm, salt, Buffer.from('Content-Encoding: nonce\0'), 12));
    const decipher = createDecipheriv('aes-128-gcm', cek, nonce);
    decipher.setAuthTag(record.subarray(record.length - 16));
    const plain = Buffer.concat([decipher.update(record.subarray(0, record.length - 16)), decipher.final()]);
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    if (plain[end] !== 2) throw new Error('missing the last-record padding delimiter');
    return plain.subarray(0, end).toString('utf8');
  }
}

/** RFC 8292 §3: `Authorization: vapid t=<JWT>, k=<public key>`; checks the ES256 signature. */
export function checkVapid(authorization: string | undefined): { key: string; claims: Record<string, unknown> } {
  const m = /^vapid\s+t=([A-Za-z0-9_.-]+),\s*k=([A-Za-z0-9_-]+)$/.exec(authorization ?? '');
  if (!m) throw new Error(`not a vapid Authorization header: ${authorization}`);
  const [header, claims, signature] = m[1]!.split('.') as [string, string, string];
  const point = Buffer.from(m[2]!, 'base64url');
  if (point.length !== 65 || point[0] !== 4) throw new Error('k is not an uncompressed P-256 point');
  const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const ok = verify('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' }, Buffer.from(signature, 'base64url'));
  if (!ok) throw new Error('VAPID signature does not verify');
  const head = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (head['alg'] !== 'ES256') throw new Error('VAPID alg is not ES256');
  return { key: m[2]!, claims: JSON.parse(Buffer.from(claims, 'base64url').toString('utf8')) as Record<string, unknown> };
}

/** The promise, or a rejection after ms (a missing event fails the test instead of hanging it). */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The reason the next 'ended' event gives for subscription `id`. */
export function nextEnded(pigeon: TestPigeon, id: string): Promise<string> {
  return within(new Promise((resolve) => {
    const on = (e: { subscription: { id: string }; reason: string }) => {
      if (e.subscription.id !== id) return;
      pigeon.push.events.off('ended', on);
      resolve(e.reason);
    };
    pigeon.push.events.on('ended', on);
  }), 20_000, 'the subscription to end');
}

/** A small message from carol@example.org to alice@example.com with this subject. */
export const message = (subject: string): Buffer =>
  Buffer.from(`From: Carol <carol@example.org>\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\nHello.\r\n`);
