// The session state machine without sockets: lines and message events in, replies and the next
// reading mode out, over a real store (createSessionServices).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/open.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/shared/logger.js';
import { createSessionServices } from '../../src/smtp/server.js';
import { SmtpSession, type SessionOptions } from '../../src/smtp/session.js';
import { offlineResolver } from './harness.js';

async function setup(t: { after: (fn: () => Promise<void>) => void }, options: Partial<SessionOptions> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const logger = silentLogger();
  const config = buildConfig({ hostname: 'mx.example.com', data_dir: dir, auth: { failure_delay_ms: 0 } }, { env: {} });
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir, logger });
  await store.addDomain('example.com');
  await store.createAccount({ email: 'bob@example.com', passwordHash: await hashPassword('pw') });
  t.after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const services = createSessionServices({ config, store, authenticator: new Authenticator(store, { auth: config.auth, logger }), logger, resolver: offlineResolver });
  const session = new SmtpSession(
    {
      kind: 'mx',
      hostname: 'mx.example.com',
      remoteAddress: '192.0.2.7',
      trustedNetwork: false,
      tls: null,
      starttlsAvailable: true,
      allowPlaintextAuth: false,
      limits: { maxMessageSize: 1000, maxLineLength: 1000, maxRecipients: 10, maxBadCommands: 5, maxCommandsBeforeMail: 10, maxConnectionsPerAddress: 10, idleTimeoutMs: 1000 },
      ...options,
    },
    services,
  );
  return { session, store };
}

const line = (s: string) => Buffer.from(s);

describe('session state machine (no sockets)', () => {
  test('DATA switches the reader to message mode with the size limit as the bound', async (t) => {
    const { session } = await setup(t);
    assert.deepEqual(session.greeting().next, { kind: 'line' });
    await session.handleLine(line('EHLO c'));
    await session.handleLine(line('MAIL FROM:<a@remote.test>'));
    await session.handleLine(line('RCPT TO:<bob@example.com>'));
    const data = await session.handleLine(line('DATA'));
    assert.equal(data.replies[0]!.code, 354);
    assert.deepEqual(data.next, { kind: 'data', keep: 1000 });
    const done = await session.handleData({ kind: 'data', body: Buffer.from('Subject: s\r\n\r\nx\r\n'), size: 17, tooBig: false, bareCr: false, bareLf: false });
    assert.equal(done.replies[0]!.code, 250);
    assert.equal(session.inTransaction, false);
  });

  test('BDAT asks for its chunk first and answers after it, even when refused', async (t) => {
    const { session } = await setup(t);
    await session.handleLine(line('EHLO c'));
    const s1 = await session.handleLine(line('BDAT 5'));
    assert.deepEqual(s1, { replies: [], next: { kind: 'chunk', size: 5, keep: 0 } });
    const s2 = await session.handleChunk({ kind: 'chunk', data: Buffer.alloc(0), size: 5, tooBig: true });
    assert.deepEqual([s2.replies[0]!.code, s2.next], [503, { kind: 'line' }]);
    const huge = await session.handleLine(line('BDAT 999999999'));
    assert.deepEqual([huge.replies[0]!.code, huge.next], [552, { kind: 'close' }]);
  });

  test('STARTTLS hands the socket over, and afterwards the session starts from nothing', async (t) => {
    const { session } = await setup(t);
    await session.handleLine(line('EHLO c'));
    const s = await session.handleLine(line('STARTTLS'));
    assert.deepEqual([s.replies[0]!.code, s.next], [220, { kind: 'starttls' }]);
    session.tlsStarted({ protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' });
    assert.equal(session.enhancedCodes, false);
    assert.equal((await session.handleLine(line('MAIL FROM:<a@remote.test>'))).replies[0]!.code, 503);
    const ehlo = await session.handleLine(line('EHLO c'));
    assert.ok(ehlo.replies[0]!.lines.includes('AUTH PLAIN LOGIN'));
    assert.ok(!ehlo.replies[0]!.lines.includes('STARTTLS'));
  });

  test('an AUTH exchange consumes the next line as a SASL response, not a command', async (t) => {
    const { session } = await setup(t, { tls: { protocol: 'TLSv1.3', cipher: 'x' } });
    await session.handleLine(line('EHLO c'));
    assert.equal((await session.handleLine(line('AUTH PLAIN'))).replies[0]!.code, 334);
    const r = await session.handleLine(line(Buffer.from('\0bob@example.com\0pw').toString('base64')));
    assert.deepEqual([r.replies[0]!.code, r.replies[0]!.enhanced], [235, '2.7.0']);
    assert.equal(session.authenticated?.email, 'bob@example.com');
  });
});
