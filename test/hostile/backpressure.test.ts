// A client that never reads its FETCH (IMAP) or RETR (POP3) output: the server must stop
// producing when the socket does not drain (bounded buffers), keep serving other clients
// meanwhile, and finish every command once the client reads again. Measured in-process: the
// growth of Buffer memory while 100 MB of output is requested and not read.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { LineClient } from './line-client.js';

const USER = 'reader@hostile.test';
const PASS = 'reader password';
const MESSAGE_BYTES = 2 * 1024 * 1024;
const FETCHES = 50;

let pigeon: TestPigeon;

before(async () => {
  pigeon = await startTestPigeon({ listen: { http: '', https: '' }, auth: { allow_plaintext: true } });
  await pigeon.addUser(USER, PASS);
  const c = await LineClient.connect(pigeon.ports['imap']!);
  await c.next();
  await c.imap('l', `LOGIN "${USER}" "${PASS}"`);
  const line = 'x'.repeat(998) + '\r\n';
  const body = Buffer.from(`Subject: big\r\n\r\n${line.repeat(Math.ceil(MESSAGE_BYTES / line.length))}`);
  c.write(`a APPEND INBOX {${body.length}+}\r\n`);
  c.write(Buffer.concat([body, Buffer.from('\r\n')]));
  assert.match(await c.until(/^a /), /^a OK/);
  c.close();
});

after(async () => {
  await pigeon.close({ timeoutMs: 0 });
});

function bufferMemory(): number {
  const m = process.memoryUsage();
  return m.arrayBuffers + m.external;
}

test('a client that never reads 100 MB of FETCH output keeps server memory bounded, others are served, and all completes once it reads', { timeout: 60_000 }, async () => {
  const socket: Socket = connect({ host: '127.0.0.1', port: pigeon.ports['imap']! });
  await once(socket, 'connect');
  let text = '';
  let received = 0;
  const onData = (d: Buffer) => {
    received += d.length;
    text = (text + d.toString('latin1')).slice(-4096);
  };
  socket.on('data', onData);
  const waitFor = async (re: RegExp) => {
    while (!re.test(text)) await once(socket, 'data');
  };
  await waitFor(/^\* OK.*\r\n/m);
  socket.write(`l LOGIN "${USER}" "${PASS}"\r\ns SELECT INBOX\r\n`);
  await waitFor(/^s OK/m);
  // Stop reading, then ask for FETCHES × 2 MB.
  socket.pause();
  socket.off('data', onData);
  global.gc?.();
  const base = bufferMemory();
  socket.write(Array.from({ length: FETCHES }, (_, i) => `f${i} FETCH 1 BODY.PEEK[]\r\n`).join(''));
  // Observe for a bounded time while nothing is read: the server may fill the socket buffers
  // (a few MB on loopback) and its own bounded queue, not 100 MB.
  let peak = 0;
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    await new Promise<void>((r) => setTimeout(r, 25));
    peak = Math.max(peak, bufferMemory() - base);
  }
  // Another client is served meanwhile.
  const other = await LineClient.connect(pigeon.ports['imap']!);
  await other.next();
  assert.match((await other.imap('l', `LOGIN "${USER}" "${PASS}"`)).done, /^l OK/);
  assert.match((await other.imap('n', 'NOOP')).done, /^n OK/);
  other.close();
  assert.ok(peak < 50 * 1024 * 1024, `Buffer memory grew by ${Math.round(peak / 1024 / 1024)} MB while ${FETCHES * 2} MB of output was unread`);
  // Reading again, every command completes.
  socket.on('data', onData);
  socket.resume();
  await waitFor(new RegExp(`^f${FETCHES - 1} OK`, 'm'));
  assert.ok(received >= FETCHES * MESSAGE_BYTES, `received ${received} bytes`);
  socket.destroy();
});

test('a POP3 client that pipelines 50 RETR of a 2 MB message and never reads keeps server memory bounded, then gets them all', { timeout: 60_000 }, async () => {
  const socket: Socket = connect({ host: '127.0.0.1', port: pigeon.ports['pop3']! });
  await once(socket, 'connect');
  let text = '';
  let received = 0;
  const onData = (d: Buffer) => {
    received += d.length;
    text = (text + d.toString('latin1')).slice(-4096);
  };
  socket.on('data', onData);
  const waitFor = async (re: RegExp) => {
    while (!re.test(text)) await once(socket, 'data');
  };
  await waitFor(/^\+OK.*\r\n/m);
  socket.write(`USER ${USER}\r\nPASS ${PASS}\r\n`);
  await waitFor(/^\+OK maildrop/m);
  socket.pause();
  socket.off('data', onData);
  const base = bufferMemory();
  // RFC 2449 §6.6 PIPELINING: commands may be sent without waiting.
  socket.write(Array.from({ length: FETCHES }, () => 'RETR 1\r\n').join('') + 'NOOP\r\n');
  let peak = 0;
  const until = Date.now() + 1500;
  while (Date.now() < until) {
    await new Promise<void>((r) => setTimeout(r, 25));
    peak = Math.max(peak, bufferMemory() - base);
  }
  assert.ok(peak < 50 * 1024 * 1024, `Buffer memory grew by ${Math.round(peak / 1024 / 1024)} MB while ${FETCHES * 2} MB of RETR output was unread`);
  socket.on('data', onData);
  socket.resume();
  // The NOOP after the last RETR answers once everything before it was read.
  await waitFor(/\r\n\.\r\n\+OK[^\r\n]*\r\n$/);
  assert.ok(received >= FETCHES * MESSAGE_BYTES, `received ${received} bytes`);
  socket.destroy();
});
