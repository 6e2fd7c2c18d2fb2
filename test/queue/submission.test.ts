// End to end: a client submits over SMTP (587, STARTTLS + AUTH) to a remote recipient; the SMTP
// server wakes the queue worker at once (no polling), which delivers to the remote sink; the
// account's server-side Sent copy is filed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { buildConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { silentLogger } from '../../src/shared/logger.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { createTlsProvider } from '../../src/tls/provider.js';
import { startSmtpServer } from '../../src/smtp/server.js';
import { startQueueWorker } from '../../src/queue/worker.js';
import { SmtpSink } from '../harness/smtp-sink.js';
import type { QueueResolver } from '../../src/queue/mx.js';

test('a submitted message to a remote address is delivered at once and filed into Sent', { timeout: 30_000 }, async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const config = buildConfig({
    hostname: 'mail.example.com', data_dir: dir,
    listen: { smtp: '', submission: '127.0.0.1:0', submissions: '', lmtp: '', imap: '', imaps: '', pop3: '', pop3s: '', http: '', https: '' },
    auth: { failure_delay_ms: 0, max_failure_delay_ms: 0 },
    // A long poll: delivery within the test proves the kick, not the timer.
    queue: { retry_schedule_minutes: '60' },
  }, { env: {} });
  const logger = silentLogger();
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
  await store.addDomain('example.com');
  const alice = await store.createAccount({ email: 'alice@example.com', passwordHash: await hashPassword('pw-alice') });
  await store.queue.setSentCopy(alice.id, true);
  const sink = await SmtpSink.start();
  const resolver: QueueResolver = {
    resolveMx: async (d) => [{ exchange: `mx.${d}`, priority: 10 }],
    resolve4: async () => ['127.0.0.1'],
    resolve6: async () => [],
  };
  const worker = await startQueueWorker({ config, store, logger, resolver, mxPort: sink.port, pollMs: 600_000 });
  const tls = await createTlsProvider({ dataDir: dir, hostname: 'mail.example.com', cert: '', key: '' });
  const smtp = await startSmtpServer({
    config, store, tls, logger, onQueued: () => worker.kick(),
    authenticator: new Authenticator(store, { auth: config.auth, logger, sleep: async () => {} }),
    resolver: async () => {
      throw Object.assign(new Error('offline'), { code: 'ENOTFOUND' });
    },
  });
  try {
    // Let the worker's first look at the (empty) queue finish, so only a kick can find the mail.
    await worker.idle();
    const port = smtp.listening.find((l) => l.listener === 'submission')!.port;
    const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.com', pass: 'pw-alice' } });
    const info = await transport.sendMail({ from: 'alice@example.com', to: 'bob@remote.test', subject: 'Hi Bob', text: 'See you soon.' });
    assert.deepEqual(info.accepted, ['bob@remote.test']);
    const [tx] = await sink.waitForMessages(1);
    assert.equal(tx!.from, 'alice@example.com');
    assert.match(tx!.data.toString(), /Subject: Hi Bob/);
    const sent = (await store.getMailbox(alice.id, 'Sent'))!;
    assert.equal((await store.listMessageStates(sent.id)).length, 1);
    transport.close();
  } finally {
    await smtp.close({ timeoutMs: 1000 });
    await worker.close();
    await sink.close();
    tls.close();
    await store.close();
  }
});
