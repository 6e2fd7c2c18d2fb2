// COMPRESS=DEFLATE (RFC 4978) against a started server: raw deflate both ways after login, a
// command pipelined right behind COMPRESS, a 5 MB literal APPEND, IDLE updates, NO
// [COMPRESSIONACTIVE], an inflate bomb held to the line limit, Python's zlib (wbits=-15) and
// imapflow's compression.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import zlib from 'node:zlib';
import { spawn } from 'node:child_process';
import { ImapFlow } from 'imapflow';
import { FIXTURES, startTestServer, type TestServer } from '../harness/transcript.js';

const simple = fs.readFileSync(path.join(FIXTURES, 'simple.eml'));

/** A client that speaks plain IMAP, then raw deflate after `startCompression()`. */
class DeflateClient {
  #socket: net.Socket;
  #deflate: zlib.DeflateRaw | null = null;
  #text = '';
  #waiters: Array<() => void> = [];
  closed = false;
  compressedBytesIn = 0;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', this.#onPlain);
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<DeflateClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new DeflateClient(s)));
      s.once('error', reject);
    });
  }

  #onPlain = (chunk: Buffer): void => {
    this.#text += chunk.toString('latin1');
    this.#wake();
  };

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Switch both directions to raw deflate; `first` is sent compressed in the same write as the last plain bytes. */
  startCompression(): void {
    this.#socket.off('data', this.#onPlain);
    const inflate = zlib.createInflateRaw();
    this.#socket.on('data', (c: Buffer) => {
      this.compressedBytesIn += c.length;
      inflate.write(c);
    });
    inflate.on('data', this.#onPlain);
    this.#deflate = zlib.createDeflateRaw();
    this.#deflate.on('data', (c: Buffer) => this.#socket.write(c));
  }

  send(data: string | Buffer): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    if (this.#deflate) {
      this.#deflate.write(bytes);
      this.#deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.#socket.write(bytes);
  }

  /** Raw bytes on the socket (a compressed stream built by the test). */
  sendRaw(data: Buffer): void {
    this.#socket.write(data);
  }

  /** Lines up to and including the one that starts with `tag ` (or a BYE). */
  async until(tag: string, timeoutMs = 90_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.#text.split('\r\n');
      const i = lines.findIndex((l) => l.startsWith(`${tag} `) || l.startsWith('* BYE'));
      if (i >= 0) {
        this.#text = lines.slice(i + 1).join('\r\n');
        return lines.slice(0, i + 1);
      }
      if (this.closed) throw new Error(`closed before ${tag}; got ${JSON.stringify(this.#text.slice(-500))}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${tag}; got ${JSON.stringify(this.#text.slice(-500))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, deadline - Date.now());
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

async function withServer(fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer();
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

async function loggedIn(server: TestServer): Promise<DeflateClient> {
  const c = await DeflateClient.connect(server.port);
  await c.until('*');
  c.send('a LOGIN user@example.com pass\r\n');
  const login = await c.until('a');
  assert.match(login.at(-1)!, /^a OK .*COMPRESS=DEFLATE/);
  return c;
}

describe('COMPRESS=DEFLATE (RFC 4978)', () => {
  test('is refused before login and not advertised there', async () => {
    await withServer(async (server) => {
      const c = await DeflateClient.connect(server.port);
      const greeting = await c.until('*');
      assert.doesNotMatch(greeting[0]!, /COMPRESS/);
      c.send('a COMPRESS DEFLATE\r\n');
      assert.equal((await c.until('a')).at(-1), 'a BAD COMPRESS: Log in first');
      c.close();
    });
  });

  test('a command pipelined in the same packet as COMPRESS is read as compressed data', async () => {
    await withServer(async (server) => {
      const c = await loggedIn(server);
      const deflate = zlib.createDeflateRaw();
      const tail = await new Promise<Buffer>((resolve) => {
        const parts: Buffer[] = [];
        deflate.on('data', (p: Buffer) => parts.push(p));
        deflate.write('b NOOP\r\n');
        deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(parts)));
      });
      c.sendRaw(Buffer.concat([Buffer.from('c COMPRESS DEFLATE\r\n'), tail]));
      assert.equal((await c.until('c')).at(-1), 'c OK DEFLATE active');
      // Continue on the same deflate stream the test started.
      c.startCompression();
      assert.equal((await c.until('b')).at(-1), 'b OK NOOP completed');
      c.close();
    });
  });

  test('a 5 MB literal APPEND, FETCH of it, IDLE updates and a second COMPRESS all work compressed', async () => {
    await withServer(async (server) => {
      const c = await loggedIn(server);
      c.send('c COMPRESS DEFLATE\r\n');
      assert.equal((await c.until('c')).at(-1), 'c OK DEFLATE active');
      c.startCompression();
      c.send('d COMPRESS DEFLATE\r\n');
      assert.equal((await c.until('d')).at(-1), 'd NO [COMPRESSIONACTIVE] DEFLATE is already active');
      const line = 'Subject: big\r\n\r\n' + 'x'.repeat(998) + '\r\n';
      const body = Buffer.from(line.repeat(Math.ceil((5 * 1024 * 1024) / line.length)));
      c.send(`e APPEND INBOX {${body.length}}\r\n`);
      await c.until('+');
      c.send(body);
      c.send('\r\n');
      assert.match((await c.until('e')).at(-1)!, /^e OK \[APPENDUID \d+ 1\]/);
      // The client received far fewer bytes than it would have read in clear.
      c.send('f SELECT INBOX\r\nf2 FETCH 1 (RFC822.SIZE BODY.PEEK[])\r\n');
      await c.until('f');
      const fetched = await c.until('f2');
      assert.ok(fetched.join('\r\n').length >= body.length, 'the whole literal came back');
      assert.equal(fetched.at(-1), 'f2 OK FETCH completed');
      assert.ok(c.compressedBytesIn < body.length / 20, `compressed bytes in: ${c.compressedBytesIn}`);
      c.send('g IDLE\r\n');
      await c.until('+');
      await server.deliver(simple, 'user@example.com');
      await c.until('* 2');
      c.send('DONE\r\n');
      assert.equal((await c.until('g')).at(-1), 'g OK IDLE terminated');
      c.send('h LOGOUT\r\n');
      assert.deepEqual(await c.until('*'), ['* BYE Pigeon IMAP signing off']);
      c.close();
    });
  });

  test('an inflate bomb is held to the line limit: BAD, and the connection stays usable or ends cleanly', async () => {
    await withServer(async (server) => {
      const c = await loggedIn(server);
      c.send('c COMPRESS DEFLATE\r\n');
      await c.until('c');
      c.startCompression();
      // 64 MB of one line expands from well under 100 KB of input.
      const chunk = Buffer.alloc(1024 * 1024, 0x41);
      for (let i = 0; i < 64; i++) c.send(chunk);
      c.send('\r\nz NOOP\r\n');
      const lines = await c.until('z', 60_000).catch((err: Error) => [err.message]);
      const text = lines.join('\n');
      assert.ok(/BAD|BYE|closed before/.test(text), text.slice(0, 300));
      assert.ok(process.memoryUsage().rss < 1024 * 1024 * 1024);
      c.close();
    });
  });

  test("Python's zlib (wbits=-15) speaks compressed IMAP with the server", async () => {
    await withServer(async (server) => {
      const script = `
import socket, sys, zlib
s = socket.create_connection(("127.0.0.1", ${server.port}))
f = s.makefile("rb")
def line(): return f.readline().decode()
assert line().startswith("* OK")
s.sendall(b"a LOGIN user@example.com pass\\r\\n")
assert line().startswith("a OK")
s.sendall(b"b COMPRESS DEFLATE\\r\\n")
assert line().startswith("b OK"), "compress"
co = zlib.compressobj(6, zlib.DEFLATED, -15)
de = zlib.decompressobj(-15)
def send(b): s.sendall(co.compress(b) + co.flush(zlib.Z_SYNC_FLUSH))
buf = b""
def until(tag):
    global buf
    out = []
    while True:
        while b"\\r\\n" in buf:
            l, buf = buf.split(b"\\r\\n", 1)
            out.append(l.decode())
            if l.startswith(tag.encode() + b" "): return out
        data = s.recv(65536)
        if not data: raise SystemExit("closed")
        buf += de.decompress(data)
send(b"c SELECT INBOX\\r\\n")
r = until("c")
assert r[-1].startswith("c OK"), r
send(b"d FETCH 1 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])\\r\\n")
r = until("d")
assert r[-1] == "d OK FETCH completed", r
print("\\n".join(r))
send(b"e LOGOUT\\r\\n")
print(until("e")[-1])
`;
      await server.deliver(simple, 'user@example.com');
      const out = await new Promise<string>((resolve, reject) => {
        const p = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('error', reject);
        p.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`python exited ${code}: ${stderr}`))));
      });
      assert.match(out, /\* 1 FETCH \(FLAGS \(\\Recent\) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}/);
      assert.match(out, /e OK LOGOUT completed/);
    });
  });

  test('imapflow negotiates compression and fetches through it', async () => {
    await withServer(async (server) => {
      await server.deliver(simple, 'user@example.com');
      const client = new ImapFlow({ host: '127.0.0.1', port: server.port, secure: false, auth: { user: 'user@example.com', pass: 'pass' }, tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true });
      await client.connect();
      try {
        assert.ok((client as unknown as { _deflate?: unknown })._deflate, 'imapflow switched to deflate');
        const lock = await client.getMailboxLock('INBOX');
        try {
          const msg = await client.fetchOne('1', { envelope: true, source: true });
          assert.ok(msg);
          assert.equal(msg.source?.length, simple.length);
        } finally {
          lock.release();
        }
      } finally {
        await client.logout();
      }
    });
  });
});
