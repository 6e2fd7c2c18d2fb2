// IMAP for phones (issue 7; prints numbers, not pass/fail):
// 1. QRESYNC reconnect (RFC 7162 §3.2.5) to a 50,000-message mailbox after 100 flag changes and
//    20 expunges: SELECT … (QRESYNC …) round trip on loopback and bytes the server sent for it.
//    Target: < 20 ms and < 8 KB.
// 2. Headers-only first sync of 10,000 messages (UID FETCH 1:* (UID FLAGS RFC822.SIZE
//    BODY.PEEK[HEADER.FIELDS (…)])) with and without COMPRESS=DEFLATE (RFC 4978): bytes on the
//    wire and seconds. Target: COMPRESS cuts the bytes by ≥ 60 %.
// The mailboxes are filled by direct store appends and copies (no IMAP APPEND); the data folder is on /dev/shm
// when there is one, so filling is not a disk benchmark.
//   node --import tsx bench/imap-mobile.ts [--store postgres]
//   (BENCH_MOBILE_MESSAGES=… scales the big mailbox, BENCH_MOBILE_SYNC=… the headers-only one)
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { buildConfig } from '../src/config/load.js';
import { silentLogger } from '../src/shared/logger.js';
import { openStore } from '../src/store/open.js';
import { Authenticator } from '../src/auth/authenticator.js';
import { hashPassword } from '../src/auth/passwords.js';
import { createTlsProvider } from '../src/tls/provider.js';
import { indexMessage } from '../src/mail/parse.js';
import { startImapServer } from '../src/imap/server.js';
import { storeFromArgs } from '../test/harness/postgres-db.js';

const BIG = Number(process.env['BENCH_MOBILE_MESSAGES'] ?? 50_000);
const SYNC = Number(process.env['BENCH_MOBILE_SYNC'] ?? 10_000);
/** Reconnects timed per kind of SELECT (the median is reported: a shared machine is noisy). */
const RUNS = 15;
const MID = Math.floor(RUNS / 2);
const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
const dir = fs.mkdtempSync(path.join(base, 'pigeon-bench-'));

function message(i: number): Buffer {
  return Buffer.from(
    `From: Sender ${i % 97} <sender${i % 97}@example.org>\r\nTo: phone@example.com\r\nSubject: Report ${i}: quarterly numbers for team ${i % 13}\r\n` +
      `Date: Mon, 02 Nov 2026 10:${String(i % 60).padStart(2, '0')}:00 +0000\r\nMessage-ID: <bench-${i}-${(i * 7919) % 100003}@example.org>\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${'Some body text. '.repeat(20)}\r\n`,
  );
}

/** A raw IMAP client that can switch to deflate; counts bytes received on the socket. */
class Client {
  socket: net.Socket;
  #text = '';
  #wake: (() => void) | null = null;
  #deflate: zlib.DeflateRaw | null = null;
  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', this.#plain);
  }
  static connect(port: number): Promise<Client> {
    return new Promise((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new Client(s)));
    });
  }
  #plain = (c: Buffer): void => {
    this.#text += c.toString('latin1');
    this.#wake?.();
  };
  compress(): void {
    this.socket.off('data', this.#plain);
    const inflate = zlib.createInflateRaw();
    this.socket.on('data', (c: Buffer) => inflate.write(c));
    inflate.on('data', this.#plain);
    this.#deflate = zlib.createDeflateRaw();
    this.#deflate.on('data', (c: Buffer) => this.socket.write(c));
  }
  send(line: string): void {
    if (this.#deflate) {
      this.#deflate.write(line + '\r\n');
      this.#deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.socket.write(line + '\r\n');
  }
  async until(tag: string): Promise<string> {
    for (;;) {
      const at = this.#text.indexOf(`\r\n${tag} `);
      const start = this.#text.startsWith(`${tag} `) ? 0 : at >= 0 ? at + 2 : -1;
      if (start >= 0) {
        const end = this.#text.indexOf('\r\n', start);
        if (end >= 0) {
          const out = this.#text.slice(0, end + 2);
          this.#text = this.#text.slice(end + 2);
          return out;
        }
      }
      await new Promise<void>((r) => (this.#wake = r));
    }
  }
  close(): void {
    this.socket.destroy();
  }
}

async function main(): Promise<void> {
  const config = buildConfig({ data_dir: dir, hostname: 'bench.example.com', listen: { imap: '127.0.0.1:0', imaps: '' }, auth: { allow_plaintext: true, failure_delay_ms: 0 } }, { env: {} });
  const logger = silentLogger();
  // `--store postgres`: a fresh PostgreSQL database for this run (dropped at the end).
  const engine = await storeFromArgs();
  const store = await openStore({ driver: engine.store['driver'] === 'postgres' ? 'postgres' : 'sqlite', url: engine.store['url'] ?? '', dataDir: dir, logger });
  await store.addDomain('example.com');
  const account = await store.createAccount({ email: 'phone@example.com', passwordHash: await hashPassword('pw') });
  const tls = await createTlsProvider({ dataDir: dir, hostname: 'bench.example.com', cert: '', key: '' });
  const server = await startImapServer({ config, store, authenticator: new Authenticator(store, { auth: config.auth, logger }), tls, logger });
  const port = server.listening[0]!.port;
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  const sync = await store.createMailbox(account.id, 'Sync');

  let t = performance.now();
  // 1,000 distinct messages, then copies in one transaction each (doubling) up to BIG.
  for (let i = 0; i < Math.min(1000, BIG); i++) {
    const raw = message(i);
    await store.appendMessage(inbox.id, { raw, index: indexMessage(raw) });
  }
  for (let have = Math.min(1000, BIG); have < BIG; ) {
    const present = (await store.listMessageStates(inbox.id)).map((s) => s.uid);
    const take = present.slice(0, Math.min(present.length, BIG - have));
    await store.copyMessages(inbox.id, take, inbox.id);
    have += take.length;
  }
  for (let i = 0; i < SYNC; i++) {
    const raw = message(BIG + i);
    await store.appendMessage(sync.id, { raw, index: indexMessage(raw) });
  }
  console.log(`${store.driver}: filled ${BIG} + ${SYNC} messages in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  // 1. QRESYNC reconnect.
  const login = async (): Promise<Client> => {
    const c = await Client.connect(port);
    c.send('a LOGIN phone@example.com pw');
    await c.until('a');
    return c;
  };
  let c = await login();
  c.send('b ENABLE QRESYNC');
  await c.until('b');
  c.send('c SELECT INBOX');
  const sel = await c.until('c');
  const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(sel)![1]);
  const modseq = Number(/HIGHESTMODSEQ (\d+)/.exec(sel)![1]);
  c.close();
  const uids = (await store.listMessageStates(inbox.id)).map((s) => s.uid);
  const step = Math.floor(uids.length / 130);
  await store.storeFlags(inbox.id, Array.from({ length: 100 }, (_, i) => uids[i * step]!), { mode: 'add', flags: ['\\Seen'] });
  await store.expunge(inbox.id, Array.from({ length: 20 }, (_, i) => uids[(100 + i) * step + 1]!));
  const times: number[] = [];
  let bytes = 0;
  for (let run = 0; run < RUNS; run++) {
    c = await login();
    c.send('b ENABLE QRESYNC');
    await c.until('b');
    const before = c.socket.bytesRead;
    t = performance.now();
    c.send(`d SELECT INBOX (QRESYNC (${uidValidity} ${modseq}))`);
    const answer = await c.until('d');
    times.push(performance.now() - t);
    bytes = c.socket.bytesRead - before;
    if (run === 0) {
      const fetches = answer.split('\r\n').filter((l) => / FETCH /.test(l)).length;
      console.log(`QRESYNC answer: ${fetches} FETCH lines, VANISHED: ${/VANISHED \(EARLIER\) (\S+)/.exec(answer)?.[1] ?? 'none'}`);
    }
    c.close();
  }
  times.sort((a, b) => a - b);
  // For scale: the same SELECT without QRESYNC (as cheap: the view opens from UID runs and counters).
  const plain: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    c = await login();
    t = performance.now();
    c.send('p SELECT INBOX');
    await c.until('p');
    plain.push(performance.now() - t);
    c.close();
  }
  plain.sort((a, b) => a - b);
  console.log(`plain SELECT of the same mailbox: ${plain[MID]!.toFixed(1)} ms median (min ${plain[0]!.toFixed(1)})`);
  console.log(`QRESYNC reconnect to ${BIG} messages after 100 flag changes + 20 expunges: SELECT ${times[MID]!.toFixed(1)} ms median (min ${times[0]!.toFixed(1)}), ${bytes} bytes sent (targets < 20 ms, < 8192 bytes)`);

  // 2. Headers-only first sync with and without COMPRESS.
  const results: Array<{ compress: boolean; bytes: number; seconds: number }> = [];
  for (const compress of [false, true]) {
    c = await login();
    if (compress) {
      c.send('z COMPRESS DEFLATE');
      await c.until('z');
      c.compress();
    }
    c.send('e SELECT Sync');
    await c.until('e');
    const before = c.socket.bytesRead;
    t = performance.now();
    c.send('f UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO CC SUBJECT DATE MESSAGE-ID CONTENT-TYPE)])');
    await c.until('f');
    results.push({ compress, bytes: c.socket.bytesRead - before, seconds: (performance.now() - t) / 1000 });
    c.close();
  }
  for (const r of results) console.log(`headers-only sync of ${SYNC}: ${r.compress ? 'COMPRESS   ' : 'plain      '} ${r.bytes} bytes, ${r.seconds.toFixed(2)} s`);
  console.log(`COMPRESS saves ${(100 * (1 - results[1]!.bytes / results[0]!.bytes)).toFixed(1)} % of the bytes (target ≥ 60 %)`);

  await server.close({ timeoutMs: 0 });
  tls.close();
  await store.close();
  await engine.cleanup();
  fs.rmSync(dir, { recursive: true, force: true });
}

await main();
