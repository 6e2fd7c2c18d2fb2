// End to end: a message submitted on 587 (nodemailer, STARTTLS + AUTH) is read back over IMAP
// (imapflow on 993) with its trace and authentication header fields intact.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { startImapServer } from '../../src/imap/server.js';
import { silentLogger } from '../../src/shared/logger.js';
import { PASSWORD, withServer } from './harness.js';

describe('SMTP → store → IMAP', () => {
  test('a message sent on 587 is read back over IMAP with Return-Path, Received and Authentication-Results', () =>
    withServer({}, async (s) => {
      const imap = await startImapServer({
        config: { ...s.config, listen: { ...s.config.listen, imaps: '127.0.0.1:0' } },
        store: s.store,
        authenticator: s.authenticator,
        tls: s.tls,
        logger: silentLogger(),
      });
      try {
        const transport = nodemailer.createTransport({ host: '127.0.0.1', port: s.port('submission'), requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'alice@example.com', pass: PASSWORD } });
        await transport.sendMail({ from: 'alice@example.com', to: 'bob@example.com', subject: 'over IMAP', text: 'Body line.\n' });
        transport.close();

        const client = new ImapFlow({ host: '127.0.0.1', port: imap.listening[0]!.port, secure: true, tls: { rejectUnauthorized: false }, auth: { user: 'bob@example.com', pass: PASSWORD }, logger: false });
        await client.connect();
        try {
          await client.mailboxOpen('INBOX');
          const msg = await client.fetchOne('*', { source: true, envelope: true });
          assert.ok(msg && msg.source);
          assert.equal(msg.envelope?.subject, 'over IMAP');
          const source = msg.source.toString();
          const header = source.slice(0, source.indexOf('\r\n\r\n') + 2);
          const names = header.split(/\r\n(?![ \t])/).filter(Boolean).map((f) => f.slice(0, f.indexOf(':')).toLowerCase());
          assert.deepEqual(names.slice(0, 3), ['return-path', 'received', 'authentication-results']);
          assert.match(header, /^Return-Path: <alice@example\.com>\r\n/);
          assert.match(header, /\r\n\tby mx\.example\.com \(Pigeon\) with ESMTPSA id [0-9A-F]+\r\n/);
          assert.match(header, /\r\nAuthentication-Results: mx\.example\.com;\r\n\tauth=pass smtp\.auth=alice@example\.com\r\n/);
          assert.ok(names.includes('subject') && names.includes('message-id') && names.includes('from'));
        } finally {
          await client.logout();
        }
      } finally {
        await imap.close({ timeoutMs: 1000 });
      }
    }));
});
