import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { listenOn, ListenError, ConnectionCounter, parseHostPort } from '../../src/shared/net.js';

test('a port in use is a one-line error naming the listener and the config key', async () => {
  const first = createServer();
  const { port } = await listenOn(first, { name: 'imap', address: '127.0.0.1:0' });
  const second = createServer();
  await assert.rejects(listenOn(second, { name: 'imaps', address: `127.0.0.1:${port}` }), (err: unknown) => {
    assert.ok(err instanceof ListenError);
    assert.equal(err.message, `cannot listen for imaps on 127.0.0.1:${port}: address already in use; change listen.imaps in the config (or set it to "" to disable)`);
    assert.ok(!err.message.includes('\n'));
    return true;
  });
  first.close();
});

test('the connection counter refuses beyond its maximum and frees on release', () => {
  const c = new ConnectionCounter(2);
  const a = c.acquire('192.0.2.1');
  const b = c.acquire('192.0.2.1');
  assert.ok(a && b);
  assert.equal(c.acquire('192.0.2.1'), null);
  assert.ok(c.acquire('192.0.2.2'));
  a();
  a(); // releasing twice frees one slot only
  assert.equal(c.count('192.0.2.1'), 1);
  assert.ok(c.acquire('192.0.2.1'));
});

test('addresses parse with IPv6 brackets', () => {
  assert.deepEqual(parseHostPort('[::1]:993'), { host: '::1', port: 993 });
  assert.deepEqual(parseHostPort('127.0.0.1:25'), { host: '127.0.0.1', port: 25 });
});
