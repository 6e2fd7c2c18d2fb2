// TLS end to end through `pigeon serve` (a child process) with configured certificate files:
// every TLS listener (IMAPS, POP3S, SMTPS, HTTPS, and STARTTLS on 143) refuses TLS 1.1 and
// non-AEAD / non-forward-secret TLS 1.2 suites, negotiates modern ones; SIGHUP reloads the
// certificate without dropping an established IMAP session, and new connections see the new
// certificate, and a changed certificate file is reloaded by itself. (The provider itself, SNI selection and file watching are in test/tls/.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { generate } from 'selfsigned';
import { LineClient } from '../hostile/line-client.js';
import { addUser, serverEnv, startChild, stopChild, tempDir } from './child-server.js';

const USER = 'tls@tls.test';
const PASS = 'tls password';

async function writeCert(dir: string, cn: string): Promise<void> {
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: cn }, { type: 7 as const, ip: '127.0.0.1' }] }],
  });
  writeFileSync(join(dir, 'cert.pem'), pems.cert);
  writeFileSync(join(dir, 'key.pem'), pems.private, { mode: 0o600 });
}

/** Handshake outcome: the certificate's CN and the cipher, or the error. */
function handshake(port: number, options: ConnectionOptions): Promise<{ ok: true; cn: string; cipher: string; version: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const s: TLSSocket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    s.once('secureConnect', () => {
      const cn = String(s.getPeerCertificate().subject?.CN ?? '');
      resolve({ ok: true, cn, cipher: s.getCipher().name, version: s.getProtocol() ?? '' });
      s.destroy();
    });
    s.once('error', (err) => resolve({ ok: false, error: err.message }));
  });
}

test('TLS listeners refuse TLS 1.1 and weak suites, and SIGHUP swaps the certificate without dropping a session', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  await writeCert(dir, 'first.tls.test');
  const env = serverEnv(join(dir, 'data'), { PIGEON_TLS_CERT: join(dir, 'cert.pem'), PIGEON_TLS_KEY: join(dir, 'key.pem') });
  await addUser(env, USER, PASS);
  const server = await startChild(env);
  try {
    for (const listener of ['imaps', 'pop3s', 'submissions', 'https']) {
      const port = server.ports[listener]!;
      // The client is allowed TLS 1.1 at security level 0, so only the server can refuse it.
      const old = await handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
      assert.equal(old.ok, false, `${listener} accepted TLS 1.1`);
      const weak = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: 'AES128-SHA:AES256-SHA:ECDHE-ECDSA-AES128-SHA:DEFAULT@SECLEVEL=0:!AESGCM:!CHACHA20' });
      assert.equal(weak.ok, false, `${listener} accepted a CBC / non-AEAD suite: ${weak.ok ? weak.cipher : ''}`);
      const v12 = await handshake(port, { maxVersion: 'TLSv1.2' });
      assert.ok(v12.ok, `${listener}: ${v12.ok ? '' : v12.error}`);
      assert.equal(v12.version, 'TLSv1.2');
      assert.match(v12.cipher, /^ECDHE-.*(GCM|CHACHA20)/, `${listener} negotiated ${v12.cipher}`);
      assert.equal(v12.cn, 'first.tls.test');
      const v13 = await handshake(port, {});
      assert.ok(v13.ok && v13.version === 'TLSv1.3', `${listener} did not negotiate TLS 1.3`);
    }

    // An established IMAPS session, logged in.
    const before = await LineClient.connect(server.ports['imaps']!, { tls: {} });
    await before.next();
    assert.match((await before.imap('l', `LOGIN "${USER}" "${PASS}"`)).done, /^l OK/);
    const oldCn = String((before.socket as TLSSocket).getPeerCertificate().subject?.CN);
    assert.equal(oldCn, 'first.tls.test');

    await writeCert(dir, 'second.tls.test');
    server.proc.kill('SIGHUP');
    // New handshakes see the new certificate once the reload is done (bounded wait on handshakes).
    const deadline = Date.now() + 15_000;
    let seen = '';
    while (Date.now() < deadline) {
      const r = await handshake(server.ports['imaps']!, {});
      if (r.ok && r.cn === 'second.tls.test') {
        seen = r.cn;
        break;
      }
    }
    assert.equal(seen, 'second.tls.test', 'the new certificate was not served after SIGHUP');
    for (const listener of ['pop3s', 'submissions', 'https']) {
      const r = await handshake(server.ports[listener]!, {});
      assert.ok(r.ok && r.cn === 'second.tls.test', `${listener} still serves the old certificate`);
    }
    // The old session is alive and works.
    assert.match((await before.imap('n', 'NOOP')).done, /^n OK/);
    assert.match((await before.imap('s', 'SELECT INBOX')).done, /^s OK/);
    before.close();

    // STARTTLS on 143 after the reload also gets the new certificate.
    const plain = await LineClient.connect(server.ports['imap']!);
    await plain.next();
    assert.match((await plain.imap('t', 'STARTTLS')).done, /^t OK/);
    const upgraded = await new Promise<TLSSocket>((resolve, reject) => {
      plain.socket.removeAllListeners('data');
      const s = tlsConnect({ socket: plain.socket, rejectUnauthorized: false }, () => resolve(s));
      s.once('error', reject);
    });
    assert.equal(String(upgraded.getPeerCertificate().subject?.CN), 'second.tls.test');
    upgraded.destroy();

    // A changed certificate file is picked up without a signal (the provider watches it).
    await writeCert(dir, 'third.tls.test');
    const watchDeadline = Date.now() + 15_000;
    let watched = '';
    while (Date.now() < watchDeadline && watched !== 'third.tls.test') {
      const r = await handshake(server.ports['imaps']!, {});
      if (r.ok) watched = r.cn;
      if (watched !== 'third.tls.test') await new Promise<void>((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(watched, 'third.tls.test', 'a changed certificate file was not reloaded');
  } finally {
    await stopChild(server);
  }
});
