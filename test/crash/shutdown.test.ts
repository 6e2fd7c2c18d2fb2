// Graceful shutdown of `pigeon serve` (a child process): SIGTERM stops accepting, lets commands
// in flight finish (an SMTP DATA and an IMAP APPEND whose literal is still arriving), closes IDLE
// sessions with BYE, exits 0, and loses nothing (after a restart the acknowledged messages are
// there and `pigeon check` finds the store sound).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { LineClient } from '../hostile/line-client.js';
import { addUser, runCli, serverEnv, startChild, stopChild, tempDir } from './child-server.js';

const USER = 'stop@shutdown.test';
const PASS = 'shutdown password';

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

async function login(port: number): Promise<LineClient> {
  const c = await LineClient.connect(port, { timeoutMs: 20_000 });
  await c.next();
  assert.match((await c.imap('l', `LOGIN "${USER}" "${PASS}"`)).done, /^l OK/);
  return c;
}

const message = (tag: string) => Buffer.from(`From: a@elsewhere.test\r\nSubject: ${tag}\r\nX-Tag: ${tag}\r\n\r\n${'body line\r\n'.repeat(200)}`);

test('SIGTERM stops accepting, finishes a DATA in flight, says BYE to IDLE, exits 0 and loses nothing', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const env = serverEnv(join(dir, 'data'));
  await addUser(env, USER, PASS);
  const server = await startChild(env);
  const { imap, smtp } = server.ports as { imap: number; smtp: number };

  const idler = await login(imap);
  assert.match((await idler.imap('s', 'SELECT INBOX')).done, /^s OK/);
  idler.write('i IDLE\r\n');
  assert.match(await idler.next(), /^\+ /);

  const appender = await login(imap);
  const appended = message('appended');
  assert.match((await appender.imap('a', `APPEND INBOX {${appended.length}+}\r\n${appended.toString('latin1')}`)).done, /^a OK/);

  const sender = await LineClient.connect(smtp, { timeoutMs: 20_000 });
  await sender.smtp(null);
  await sender.smtp('EHLO sender.test');
  assert.match(await sender.smtp('MAIL FROM:<a@elsewhere.test>'), /^250 /);
  assert.match(await sender.smtp(`RCPT TO:<${USER}>`), /^250 /);
  assert.match(await sender.smtp('DATA'), /^354 /);
  const sent = message('sent');
  sender.write(sent.subarray(0, 100));

  server.proc.kill('SIGTERM');
  // Stops accepting: new connections are refused once the listeners close (bounded wait).
  const deadline = Date.now() + 10_000;
  while (!(await refused(imap)) && Date.now() < deadline) await new Promise<void>((r) => setImmediate(r));
  assert.ok(await refused(imap), 'IMAP still accepts after SIGTERM');
  assert.ok(await refused(smtp), 'SMTP still accepts after SIGTERM');

  // The IDLE session is told BYE and closed.
  assert.match(await idler.until(/^\* BYE/), /^\* BYE/);
  await idler.waitClosed();

  // The DATA in flight finishes and is acknowledged; the idle IMAP session is closed.
  await appender.waitClosed();
  sender.write(Buffer.concat([sent.subarray(100), Buffer.from('\r\n.\r\n')]));
  assert.match(await sender.smtp(null), /^250 /);
  await sender.waitClosed(20_000);
  assert.equal(await server.exited, 0, server.output());

  // Nothing lost.
  const again = await startChild(env);
  try {
    const c = await login(again.ports['imap']!);
    assert.match((await c.imap('s', 'SELECT INBOX')).done, /^s OK/);
    const f = await c.imap('f', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (X-Tag)])');
    const tags = f.lines.filter((l) => /^X-Tag:/i.test(l)).map((l) => l.slice(7).trim()).sort();
    assert.deepEqual(tags, ['appended', 'sent']);
    c.close();
  } finally {
    await stopChild(again);
  }
  const check = runCli(['check'], env);
  assert.equal(check.status, 0, check.stdout + check.stderr);
});

test('an IMAP APPEND whose literal is still arriving at SIGTERM completes before the BYE', { timeout: 60_000 }, async () => {
  const dir = tempDir();
  const env = serverEnv(join(dir, 'data'));
  await addUser(env, USER, PASS);
  const server = await startChild(env);
  try {
    const appender = await login(server.ports['imap']!);
    const appended = message('appended');
    appender.write(`a APPEND INBOX {${appended.length}}\r\n`);
    assert.match(await appender.next(), /^\+ /);
    appender.write(appended.subarray(0, 100));
    server.proc.kill('SIGTERM');
    while (!(await refused(server.ports['imap']!))) await new Promise<void>((r) => setImmediate(r));
    appender.write(Buffer.concat([appended.subarray(100), Buffer.from('\r\n')]));
    assert.match(await appender.until(/^a /), /^a OK \[APPENDUID \d+ \d+\]/);
  } finally {
    await stopChild(server);
  }
});
