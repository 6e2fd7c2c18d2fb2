// QUOTA (RFC 9208) from the account's quota and usage, and MULTIAPPEND (RFC 3502) all or nothing,
// against a started server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient, startTestServer, type TestServer } from '../harness/transcript.js';

const message = (subject: string, bodyBytes: number): string => `Subject: ${subject}\r\n\r\n${'x'.repeat(bodyBytes)}\r\n`;
const literal = (m: string): string => `{${Buffer.byteLength(m)}+}\r\n${m}`;

describe('QUOTA and MULTIAPPEND', () => {
  let server: TestServer;
  let client: LineClient;
  let accountId: number;

  before(async () => {
    server = await startTestServer();
    const account = await server.store.getAccountByEmail('user@example.com');
    accountId = account!.id;
    await server.store.updateAccount(accountId, { quota: 10 * 1024 });
    client = await LineClient.connect(server.port);
    await client.readLine();
    const login = await client.command('a1', 'LOGIN user@example.com pass');
    assert.match(login.at(-1)!, /^a1 OK .*QUOTA=RES-STORAGE/);
  });
  after(async () => {
    client.send('z LOGOUT');
    await client.waitClosed();
    await server.close();
  });

  test('GETQUOTAROOT names the account root and the usage grows with a delivery', async () => {
    assert.deepEqual(await client.command('q1', 'GETQUOTAROOT INBOX'), ['* QUOTAROOT "INBOX" ""', '* QUOTA "" (STORAGE 0 10)', 'q1 OK GETQUOTAROOT completed']);
    await server.deliver(message('hello', 3000), 'user@example.com');
    assert.deepEqual(await client.command('q2', 'GETQUOTA ""'), ['* QUOTA "" (STORAGE 3 10)', 'q2 OK GETQUOTA completed']);
    assert.deepEqual(await client.command('q3', 'GETQUOTA "other"'), ['q3 NO [NONEXISTENT] No such quota root']);
  });

  test('SETQUOTA is refused to users', async () => {
    assert.deepEqual(await client.command('s1', 'SETQUOTA "" (STORAGE 99999)'), ['s1 NO [NOPERM] Quotas are set by the administrator']);
  });

  test('a MULTIAPPEND whose third message is over quota stores none of them', async () => {
    const before = (await server.store.getMailbox(accountId, 'Drafts'))!;
    const cmd = `APPEND Drafts ${literal(message('one', 1000))} ${literal(message('two', 1000))} ${literal(message('three', 6000))}`;
    const reply = await client.command('m1', cmd);
    assert.deepEqual(reply.map((l) => l.replace(/\] .*/, ']')), ['m1 NO [OVERQUOTA]']);
    const afterBox = (await server.store.getMailbox(accountId, 'Drafts'))!;
    assert.equal(afterBox.messageCount, 0);
    assert.equal(afterBox.messageCount, before.messageCount);
    assert.deepEqual(await client.command('m2', 'STATUS Drafts (MESSAGES)'), ['* STATUS "Drafts" (MESSAGES 0)', 'm2 OK STATUS completed']);
  });

  test('a MULTIAPPEND that fits stores every message and answers APPENDUID with the UID set', async () => {
    const cmd = `APPEND Drafts (\\Seen) ${literal(message('one', 10))} ${literal(message('two', 10))} ${literal(message('three', 10))}`;
    const reply = await client.command('m3', cmd);
    assert.match(reply.at(-1)!, /^m3 OK \[APPENDUID \d+ 3:5\] APPEND completed$/);
    assert.equal((await server.store.getMailbox(accountId, 'Drafts'))!.messageCount, 3);
  });

  test('an account without a quota has no quota root', async () => {
    await server.store.updateAccount(accountId, { quota: 0 });
    assert.deepEqual(await client.command('u1', 'GETQUOTAROOT INBOX'), ['* QUOTAROOT "INBOX"', 'u1 OK GETQUOTAROOT completed']);
  });
});
