// /metrics counts connections per protocol: each listener reports accepted and open connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { startTestPigeon } from '../harness/pigeon.js';

function sample(text: string, name: string, protocol: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{protocol="${protocol}"}`));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

async function greeted(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  await once(s, 'data');
  return s;
}

test('connections are counted per protocol, accepted and open', async (t) => {
  const pigeon = await startTestPigeon();
  t.after(() => pigeon.close({ timeoutMs: 0 }));
  const metrics = async () => (await fetch(`http://127.0.0.1:${pigeon.ports['http']}/metrics`)).text();
  const sockets = [await greeted(pigeon.ports['imap']!), await greeted(pigeon.ports['imap']!), await greeted(pigeon.ports['pop3']!), await greeted(pigeon.ports['smtp']!)];
  const during = await metrics();
  assert.deepEqual(
    ['imap', 'pop3', 'smtp'].map((p) => [p, sample(during, 'pigeon_connections_total', p), sample(during, 'pigeon_open_connections', p)]),
    [['imap', 2, 2], ['pop3', 1, 1], ['smtp', 1, 1]],
  );
  await Promise.all(sockets.map((s) => { s.destroy(); return once(s, 'close'); }));
  // The server sees the closes a moment later: wait for the gauge rather than sleeping.
  let after = await metrics();
  while (sample(after, 'pigeon_open_connections', 'imap') !== 0 || sample(after, 'pigeon_open_connections', 'smtp') !== 0) {
    await new Promise((r) => setImmediate(r));
    after = await metrics();
  }
  assert.equal(sample(after, 'pigeon_connections_total', 'imap'), 2);
  assert.equal(sample(after, 'pigeon_open_connections', 'pop3'), 0);
});

test('messages accepted over SMTP are counted by session kind', async (t) => {
  const pigeon = await startTestPigeon();
  t.after(() => pigeon.close({ timeoutMs: 0 }));
  await pigeon.addUser('bob@example.test', 'pw');
  const s = await greeted(pigeon.ports['smtp']!);
  const replies: string[] = [];
  s.on('data', (d: Buffer) => replies.push(d.toString()));
  s.write('EHLO client.example\r\nMAIL FROM:<a@remote.example>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\n');
  while (!replies.join('').includes('354')) await once(s, 'data');
  s.write('Subject: counted\r\n\r\nhello\r\n.\r\nQUIT\r\n');
  await once(s, 'close');
  assert.match(replies.join(''), /^250 2\.0\.0/m);
  const text = await (await fetch(`http://127.0.0.1:${pigeon.ports['http']}/metrics`)).text();
  assert.equal(sample(text, 'pigeon_messages_received_total', 'mx'), 1);
});
