// Real clients against a started server: nodemailer and Python's smtplib, through 25 (plain and
// STARTTLS), 587 (STARTTLS + AUTH) and 465 (implicit TLS + AUTH).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import nodemailer from 'nodemailer';
import { inbox, PASSWORD, withServer, type TestServer } from './harness.js';

async function nodemailerSend(s: TestServer, options: { port: number; secure: boolean; auth: boolean; from: string; to: string; subject: string }) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: options.port,
    secure: options.secure,
    requireTLS: !options.secure && options.auth,
    tls: { rejectUnauthorized: false },
    ...(options.auth ? { auth: { user: 'alice@example.com', pass: PASSWORD } } : {}),
  });
  try {
    return await transport.sendMail({ from: options.from, to: options.to, subject: options.subject, text: 'Hi.\n.leading dot\n' });
  } finally {
    transport.close();
  }
}

const PYTHON = `
import smtplib, ssl, sys, json
from email.message import EmailMessage
port, mode, subject = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
msg = EmailMessage()
msg['From'] = 'alice@example.com'
msg['To'] = 'bob@example.com'
msg['Subject'] = subject
msg.set_content('Hello from Python.\\n.dot line\\n')
if mode == 'ssl':
    s = smtplib.SMTP_SSL('127.0.0.1', port, context=ctx, timeout=20)
else:
    s = smtplib.SMTP('127.0.0.1', port, timeout=20)
s.ehlo('python.test')
if mode in ('starttls', 'submission'):
    s.starttls(context=ctx)
    s.ehlo('python.test')
if mode in ('ssl', 'submission'):
    s.login('alice@example.com', sys.argv[4])
refused = s.send_message(msg)
print(json.dumps({'refused': refused, 'esmtp': sorted(s.esmtp_features.keys())}))
s.quit()
`;

function python(args: string[]): Promise<{ refused: Record<string, unknown>; esmtp: string[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn('python3', ['-c', PYTHON, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { refused: Record<string, unknown>; esmtp: string[] }) : reject(new Error(`python exited ${code}: ${err}`))));
  });
}

async function subjects(s: TestServer, email: string): Promise<string[]> {
  return (await inbox(s.store, email)).map((raw) => /\r\nSubject: ([^\r]*)\r\n/.exec(raw)?.[1] ?? '');
}

describe('nodemailer', () => {
  test('sends through 25 (opportunistic STARTTLS), 587 (STARTTLS + AUTH) and 465 (TLS + AUTH)', () =>
    withServer({}, async (s) => {
      const mx = await nodemailerSend(s, { port: s.port('smtp'), secure: false, auth: false, from: 'x@remote.test', to: 'bob@example.com', subject: 'nm 25' });
      assert.deepEqual(mx.accepted, ['bob@example.com']);
      const sub = await nodemailerSend(s, { port: s.port('submission'), secure: false, auth: true, from: 'alice@example.com', to: 'bob@example.com', subject: 'nm 587' });
      assert.deepEqual(sub.accepted, ['bob@example.com']);
      const tls = await nodemailerSend(s, { port: s.port('submissions'), secure: true, auth: true, from: 'alice@example.com', to: 'bob@example.com', subject: 'nm 465' });
      assert.deepEqual(tls.accepted, ['bob@example.com']);
      assert.deepEqual((await subjects(s, 'bob@example.com')).sort(), ['nm 25', 'nm 465', 'nm 587']);
      const raws = await inbox(s.store, 'bob@example.com');
      for (const raw of raws) assert.ok(raw.includes('\r\n\r\nHi.\r\n.leading dot\r\n'), 'dot-stuffing round-trips');
    }));

  test('a relay attempt without AUTH is rejected', () =>
    withServer({}, async (s) => {
      await assert.rejects(
        nodemailerSend(s, { port: s.port('smtp'), secure: false, auth: false, from: 'x@remote.test', to: 'victim@remote.test', subject: 'relay' }),
        (err: Error & { responseCode?: number }) => err.responseCode === 554,
      );
    }));
});

describe("Python's smtplib", () => {
  test('sends through 25 plain, 25 with STARTTLS, 587 with STARTTLS + AUTH and 465', () =>
    withServer({}, async (s) => {
      const plain = await python([String(s.port('smtp')), 'plain', 'py 25']);
      assert.deepEqual(plain.refused, {});
      assert.ok(plain.esmtp.includes('starttls') && plain.esmtp.includes('chunking') && plain.esmtp.includes('pipelining'));
      await python([String(s.port('smtp')), 'starttls', 'py 25 tls']);
      const sub = await python([String(s.port('submission')), 'submission', 'py 587', PASSWORD]);
      assert.ok(sub.esmtp.includes('auth'));
      await python([String(s.port('submissions')), 'ssl', 'py 465', PASSWORD]);
      assert.deepEqual((await subjects(s, 'bob@example.com')).sort(), ['py 25', 'py 25 tls', 'py 465', 'py 587']);
    }));

  test('a wrong password is refused', () =>
    withServer({}, async (s) => {
      await assert.rejects(python([String(s.port('submissions')), 'ssl', 'py bad', 'wrong']), /SMTPAuthenticationError|535/);
    }));
});
