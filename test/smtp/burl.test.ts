// BURL (RFC 4468) end to end: a phone saves a draft over IMAP, asks for a submit URLAUTH URL
// (RFC 4467 GENURLAUTH), and sends it on submission with BURL, without uploading it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPigeon } from '../harness/pigeon.js';
import { LineClient } from '../hostile/line-client.js';

const DRAFT = 'From: alice@example.test\r\nTo: bob@example.test\r\nSubject: forwarded without download\r\n\r\nThe body.\r\n';

test('BURL on submission sends a draft through URLAUTH; a bad URL is 554 5.6.6 and delivers nothing', async (t) => {
  const pigeon = await startTestPigeon();
  t.after(() => pigeon.close({ timeoutMs: 0 }));
  await pigeon.addUser('alice@example.test', 'alice-pw');
  await pigeon.addUser('bob@example.test', 'bob-pw');

  const imap = await LineClient.connect(pigeon.ports['imaps']!, { tls: { rejectUnauthorized: false } });
  t.after(() => imap.close());
  await imap.next();
  assert.match((await imap.imap('a', 'LOGIN alice@example.test alice-pw')).done, /^a OK/);
  const append = await imap.imap('b', `APPEND Drafts (\\Draft) {${Buffer.byteLength(DRAFT)}+}\r\n${DRAFT}`);
  const [, uidValidity, uid] = /APPENDUID (\d+) (\d+)/.exec(append.done) ?? assert.fail(append.done);
  const rump = `imap://alice%40example.test@mail.example.test/Drafts;UIDVALIDITY=${uidValidity}/;UID=${uid};URLAUTH=submit+alice@example.test`;
  const gen = await imap.imap('c', `GENURLAUTH "${rump}" INTERNAL`);
  assert.match(gen.done, /^c OK/);
  const url = /^\* GENURLAUTH "(.*)"$/.exec(gen.lines[0]!)?.[1] ?? assert.fail(gen.lines.join('\n'));

  const smtp = await LineClient.connect(pigeon.ports['submissions']!, { tls: { rejectUnauthorized: false } });
  t.after(() => smtp.close());
  assert.match(await smtp.smtp(null), /^220 /);
  await smtp.smtp('EHLO phone.example');
  assert.ok(smtp.lines.includes('250-BURL imap') || smtp.lines.includes('250 BURL imap'), smtp.lines.join('\n'));
  assert.match(await smtp.smtp(`AUTH PLAIN ${Buffer.from('\0alice@example.test\0alice-pw').toString('base64')}`), /^235 /);

  // A URL whose token was tampered with: refused, nothing delivered.
  assert.match(await smtp.smtp('MAIL FROM:<alice@example.test>'), /^250 /);
  assert.match(await smtp.smtp('RCPT TO:<bob@example.test>'), /^250 /);
  assert.match(await smtp.smtp(`BURL ${url.replace(/.$/, (c) => (c === '0' ? '1' : '0'))} LAST`), /^554 5\.6\.6 /);

  assert.match(await smtp.smtp('MAIL FROM:<alice@example.test>'), /^250 /);
  assert.match(await smtp.smtp('RCPT TO:<bob@example.test>'), /^250 /);
  assert.match(await smtp.smtp(`BURL ${url} LAST`), /^250 /);
  await smtp.smtp('QUIT');

  const bob = (await pigeon.store.getAccountByEmail('bob@example.test'))!;
  const inbox = (await pigeon.store.getMailbox(bob.id, 'INBOX'))!;
  const states = await pigeon.store.listMessageStates(inbox.id);
  assert.equal(states.length, 1);
  const [message] = await pigeon.store.getMessages(inbox.id, [states[0]!.uid]);
  const raw = (await pigeon.store.readBlob(message!.blobHash)).toString();
  assert.ok(raw.endsWith(DRAFT), raw);
  assert.match(raw, /^Return-Path: <alice@example\.test>\r\nReceived: /);
});

test('BURL is refused before AUTH and is not offered on port 25', async (t) => {
  const pigeon = await startTestPigeon();
  t.after(() => pigeon.close({ timeoutMs: 0 }));
  await pigeon.addUser('bob@example.test', 'bob-pw');
  const mx = await LineClient.connect(pigeon.ports['smtp']!);
  t.after(() => mx.close());
  await mx.smtp(null);
  await mx.smtp('EHLO relay.example');
  assert.equal(mx.lines.some((l) => l.includes('BURL')), false);
  await mx.smtp('MAIL FROM:<x@remote.example>');
  await mx.smtp('RCPT TO:<bob@example.test>');
  assert.match(await mx.smtp('BURL imap://x/INBOX;UIDVALIDITY=1/;UID=1;urlauth=submit+x:internal:00 LAST'), /^502 5\.5\.1 /);

  const sub = await LineClient.connect(pigeon.ports['submissions']!, { tls: { rejectUnauthorized: false } });
  t.after(() => sub.close());
  await sub.smtp(null);
  await sub.smtp('EHLO phone.example');
  assert.match(await sub.smtp('BURL imap://x/INBOX;UIDVALIDITY=1/;UID=1;urlauth=submit+x:internal:00 LAST'), /^530 5\.7\.0 /);
});
