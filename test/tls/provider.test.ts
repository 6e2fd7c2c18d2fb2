import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { once } from 'node:events';
import { X509Certificate } from 'node:crypto';
import { generate } from 'selfsigned';
import { createTlsProvider, nameMatches, type TlsProvider, type TlsProviderOptions } from '../../src/tls/provider.js';
import { ConfigError } from '../../src/shared/errors.js';

/** A fresh folder for this test, removed when it ends. */
function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A certificate + key pair for `names` (first = CN), written into dir; returns the paths. */
async function makeCert(dir: string, base: string, names: string[]): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: names[0] ?? base }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: names.map((value) => ({ type: 2 as const, value })) }],
  });
  const cert = path.join(dir, `${base}.crt`);
  const key = path.join(dir, `${base}.key`);
  fs.writeFileSync(cert, pems.cert);
  fs.writeFileSync(key, pems.private, { mode: 0o600 });
  return { cert, key };
}

/** A TLS echo server from the provider's options (attached for reloads); closed by the returned function. */
/** A provider closed when the test ends (pass or fail). */
async function provide(t: TestContext, options: TlsProviderOptions): Promise<TlsProvider> {
  const provider = await createTlsProvider(options);
  t.after(() => provider.close());
  return provider;
}

async function startServer(t: TestContext, provider: TlsProvider): Promise<{ port: number; close: () => Promise<void> }> {
  // Raw TCP sockets, tracked from 'connection' (before any handshake), so close() can end them all.
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(provider.serverOptions(), (socket) => {
    socket.on('error', () => socket.destroy());
    socket.pipe(socket);
  });
  server.on('connection', (raw: net.Socket) => {
    sockets.add(raw);
    raw.on('close', () => sockets.delete(raw));
  });
  server.on('tlsClientError', () => undefined);
  const detach = provider.attach(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      detach();
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    })();
    return closed;
  };
  t.after(close);
  return { port, close };
}

async function connect(t: TestContext, port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
  t.after(() => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}

async function echo(socket: tls.TLSSocket, text: string): Promise<string> {
  socket.write(text);
  const [data] = (await once(socket, 'data')) as [Buffer];
  return data.toString('utf8');
}

const peerCN = (socket: tls.TLSSocket): string => String(socket.getPeerCertificate().subject?.CN ?? '');

describe('self-signed certificate', { timeout: 20_000 }, () => {
  test('is generated at first start for the hostname, with localhost and 127.0.0.1, key mode 0600', async (t) => {
    const dir = tempDir(t);
    const provider = await provide(t, { dataDir: dir, hostname: 'mail.example.test', cert: '', key: '' });
    const crt = path.join(dir, 'tls', 'self-signed.crt');
    const key = path.join(dir, 'tls', 'self-signed.key');
    assert.equal(fs.statSync(key).mode & 0o777, 0o600);
    const x509 = new X509Certificate(fs.readFileSync(crt));
    assert.equal(x509.subject, 'CN=mail.example.test');
    const info = provider.info();
    assert.equal(info.selfSigned, true);
    assert.equal(info.file, crt);
    assert.equal(info.subject, 'CN=mail.example.test');
    assert.ok(info.altNames.includes('DNS:mail.example.test'));
    assert.ok(info.altNames.includes('DNS:localhost'));
    assert.ok(info.altNames.includes('IP Address:127.0.0.1'));
    assert.ok(info.notAfter > Date.now() + 300 * 24 * 3600 * 1000);
    provider.close();
  });

  test('is reused on the next start, and regenerated when the hostname changes or it expires', async (t) => {
    const dir = tempDir(t);
    const crt = path.join(dir, 'tls', 'self-signed.crt');
    (await provide(t, { dataDir: dir, hostname: 'mail.example.test', cert: '', key: '' })).close();
    const first = fs.readFileSync(crt, 'utf8');
    (await provide(t, { dataDir: dir, hostname: 'MAIL.example.test', cert: '', key: '' })).close();
    assert.equal(fs.readFileSync(crt, 'utf8'), first);

    const renamed = await provide(t, { dataDir: dir, hostname: 'mx.example.test', cert: '', key: '' });
    const second = fs.readFileSync(crt, 'utf8');
    assert.notEqual(second, first);
    assert.ok(renamed.info().altNames.includes('DNS:mx.example.test'));
    renamed.close();

    const later = Date.now() + 2 * 365 * 24 * 3600 * 1000;
    const expired = await provide(t, { dataDir: dir, hostname: 'mx.example.test', cert: '', key: '', now: () => later });
    assert.notEqual(fs.readFileSync(crt, 'utf8'), second);
    assert.ok(expired.info().notAfter > later);
    assert.equal(fs.statSync(path.join(dir, 'tls', 'self-signed.key')).mode & 0o777, 0o600);
    expired.close();
  });
});

describe('handshakes', { timeout: 20_000 }, () => {
  test('a client completes a TLS handshake and sees the certificate subject and SAN', async (t) => {
    const provider = await provide(t, { dataDir: tempDir(t), hostname: 'mail.example.test', cert: '', key: '' });
    const server = await startServer(t, provider);
    const socket = await connect(t, server.port);
    assert.ok(['TLSv1.2', 'TLSv1.3'].includes(socket.getProtocol() ?? ''));
    const peer = socket.getPeerCertificate();
    assert.equal(peer.subject?.CN, 'mail.example.test');
    assert.match(peer.subjectaltname ?? '', /DNS:mail\.example\.test/);
    assert.equal(await echo(socket, 'ping'), 'ping');
    socket.destroy();
    await server.close();
    provider.close();
  });

  test('TLS 1.1 is refused (a control server shows the client can speak it)', async (t) => {
    const old: tls.ConnectionOptions = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' };
    // Control: a permissive server accepts this client.
    const rsa = await generate([{ name: 'commonName', value: 'control' }], { keyType: 'rsa', algorithm: 'sha256' });
    const control = tls.createServer({ cert: rsa.cert, key: rsa.private, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
    t.after(() => control.close());
    control.listen(0, '127.0.0.1');
    await once(control, 'listening');
    const ok = await connect(t, (control.address() as net.AddressInfo).port, old);
    assert.equal(ok.getProtocol(), 'TLSv1.1');
    ok.destroy();
    control.close();

    const provider = await provide(t, { dataDir: tempDir(t), hostname: 'mail.example.test', cert: '', key: '' });
    const server = await startServer(t, provider);
    await assert.rejects(connect(t, server.port, old), /protocol version|unsupported protocol|wrong version/i);
    await server.close();
    provider.close();
  });

  test('a plain socket upgraded with secureContext() (STARTTLS) completes a handshake', async (t) => {
    const provider = await provide(t, { dataDir: tempDir(t), hostname: 'mail.example.test', cert: '', key: '' });
    const plain = net.createServer((sock) => {
      sock.once('data', () => {
        sock.write('OK begin TLS\r\n', () => {
          const secure = new tls.TLSSocket(sock, { isServer: true, secureContext: provider.secureContext() });
          secure.on('error', () => secure.destroy());
          secure.pipe(secure);
        });
      });
    });
    t.after(() => plain.close());
    plain.listen(0, '127.0.0.1');
    await once(plain, 'listening');
    const raw = net.connect((plain.address() as net.AddressInfo).port, '127.0.0.1');
    t.after(() => raw.destroy());
    await once(raw, 'connect');
    raw.write('STARTTLS\r\n');
    const [greeting] = (await once(raw, 'data')) as [Buffer];
    assert.equal(greeting.toString(), 'OK begin TLS\r\n');
    const secure = tls.connect({ socket: raw, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    assert.equal(peerCN(secure), 'mail.example.test');
    assert.equal(await echo(secure, 'after tls'), 'after tls');
    secure.destroy();
    plain.close();
    provider.close();
  });
});

describe('SNI', { timeout: 20_000 }, () => {
  test('wildcard names cover exactly one left-most label', () => {
    assert.equal(nameMatches('*.example.com', 'mail.example.com'), true);
    assert.equal(nameMatches('*.example.com', 'MAIL.Example.com.'), true);
    assert.equal(nameMatches('*.example.com', 'example.com'), false);
    assert.equal(nameMatches('*.example.com', 'a.b.example.com'), false);
    assert.equal(nameMatches('mail.example.com', 'mail.example.com'), true);
    assert.equal(nameMatches('mail.example.com', 'imap.example.com'), false);
  });

  test('the servername picks the matching extra certificate, exact before wildcard, default otherwise', async (t) => {
    const dir = tempDir(t);
    const main = await makeCert(dir, 'main', ['mail.example.test']);
    const other = await makeCert(dir, 'other', ['mail.other.test', 'imap.other.test']);
    const wild = await makeCert(dir, 'wild', ['*.wild.test']);
    const exact = await makeCert(dir, 'exact', ['exact.wild.test']);
    const provider = await provide(t, { dataDir: dir, hostname: 'mail.example.test', ...main, extra: [wild, other, exact] });
    const server = await startServer(t, provider);
    const cnFor = async (servername?: string): Promise<string> => {
      const s = await connect(t, server.port, servername === undefined ? {} : { servername });
      const cn = peerCN(s);
      s.destroy();
      return cn;
    };
    assert.equal(await cnFor('imap.other.test'), 'mail.other.test');
    assert.equal(await cnFor('MAIL.OTHER.TEST'), 'mail.other.test');
    assert.equal(await cnFor('x.wild.test'), '*.wild.test');
    assert.equal(await cnFor('exact.wild.test'), 'exact.wild.test');
    assert.equal(await cnFor('a.b.wild.test'), 'mail.example.test');
    assert.equal(await cnFor('unknown.test'), 'mail.example.test');
    assert.equal(await cnFor(), 'mail.example.test');
    await server.close();
    provider.close();
  });
});

describe('configured files', { timeout: 20_000 }, () => {
  test('a missing, unreadable or mismatched file is a ConfigError naming tls.cert or tls.key', async (t) => {
    const dir = tempDir(t);
    const a = await makeCert(dir, 'a', ['a.test']);
    const b = await makeCert(dir, 'b', ['b.test']);
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'not a pem');
    const base = { dataDir: dir, hostname: 'a.test' };
    const expectError = async (cert: string, key: string, key_: RegExp): Promise<void> => {
      await assert.rejects(createTlsProvider({ ...base, cert, key }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, key_);
        return true;
      });
    };
    await expectError(path.join(dir, 'missing.crt'), a.key, /^tls\.cert: cannot read/);
    await expectError(garbage, a.key, /^tls\.cert: not a PEM certificate/);
    await expectError(a.cert, garbage, /^tls\.key: not a PEM private key/);
    await expectError(a.cert, b.key, /^tls\.key: the private key does not match/);
    await expectError(a.cert, '', /^tls\.key: missing/);
    await expectError('', a.key, /^tls\.cert: missing/);
    await expectError(dir, a.key, /^tls\.cert: .* is not a file/);
    await assert.rejects(createTlsProvider({ ...base, ...a, extra: [{ cert: b.cert, key: a.key }] }), /tls\.extra\[0\]\.key/);
  });

  test('configured files load; info() describes them', async (t) => {
    const dir = tempDir(t);
    const a = await makeCert(dir, 'a', ['a.test', 'www.a.test']);
    const provider = await provide(t, { dataDir: dir, hostname: 'ignored.test', ...a });
    const info = provider.info();
    assert.equal(info.subject, 'CN=a.test');
    assert.deepEqual(info.altNames, ['DNS:a.test', 'DNS:www.a.test']);
    assert.equal(info.file, a.cert);
    assert.equal(info.selfSigned, true);
    assert.equal(fs.existsSync(path.join(dir, 'tls', 'self-signed.crt')), false);
    provider.close();
  });
});

describe('reload', { timeout: 20_000 }, () => {
  test('reload() swaps the certificate for new connections while an old one stays usable', async (t) => {
    const dir = tempDir(t);
    const files = await makeCert(dir, 'live', ['old.test']);
    const provider = await provide(t, { dataDir: dir, hostname: 'old.test', ...files });
    const server = await startServer(t, provider);
    const before = await connect(t, server.port);
    assert.equal(peerCN(before), 'old.test');

    const next = await makeCert(tempDir(t), 'next', ['new.test']);
    fs.copyFileSync(next.cert, files.cert);
    fs.copyFileSync(next.key, files.key);
    await provider.reload();

    assert.equal(provider.info().subject, 'CN=new.test');
    const withoutSni = await connect(t, server.port);
    assert.equal(peerCN(withoutSni), 'new.test');
    const withSni = await connect(t, server.port, { servername: 'anything.test' });
    assert.equal(peerCN(withSni), 'new.test');
    const upgraded = provider.secureContext();
    assert.ok(upgraded);
    assert.equal(await echo(before, 'still here'), 'still here');
    for (const s of [before, withoutSni, withSni]) s.destroy();
    await server.close();
    provider.close();
  });

  test('a failed reload keeps the previous certificate', async (t) => {
    const dir = tempDir(t);
    const files = await makeCert(dir, 'live', ['keep.test']);
    const provider = await provide(t, { dataDir: dir, hostname: 'keep.test', ...files });
    fs.writeFileSync(files.key, 'half-written');
    await assert.rejects(provider.reload(), /tls\.key/);
    assert.equal(provider.info().subject, 'CN=keep.test');
    const server = await startServer(t, provider);
    const s = await connect(t, server.port);
    assert.equal(peerCN(s), 'keep.test');
    s.destroy();
    await server.close();
    provider.close();
  });

  test('with watch, changing the certificate file reloads it', async (t) => {
    const dir = tempDir(t);
    const files = await makeCert(dir, 'watched', ['before.test']);
    const provider = await provide(t, { dataDir: dir, hostname: 'before.test', ...files, watch: true, watchIntervalMs: 20 });
    // The watcher does not hold the process open (a server's sockets do); this test's timer does.
    const keepAlive = setInterval(() => undefined, 1000);
    t.after(() => clearInterval(keepAlive));
    const reloaded = new Promise<string>((resolve) => provider.onReload((info) => resolve(info.subject)));
    const next = await makeCert(tempDir(t), 'next', ['after.test']);
    // Key first, then certificate: a watcher firing in between fails to reload and waits.
    fs.copyFileSync(next.key, files.key);
    fs.copyFileSync(next.cert, files.cert);
    assert.equal(await reloaded, 'CN=after.test');
    clearInterval(keepAlive);
    provider.close();
  });
});
