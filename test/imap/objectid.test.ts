// RFC 8474 MAILBOXID through STATUS and LIST-STATUS: stable across RENAME, new for a new mailbox.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient, startTestServer, type TestServer } from '../harness/transcript.js';

describe('MAILBOXID (RFC 8474 §4)', () => {
  let server: TestServer;
  let client: LineClient;
  before(async () => {
    server = await startTestServer();
    client = await LineClient.connect(server.port);
    await client.readLine();
    await client.command('a1', 'LOGIN user@example.com pass');
  });
  after(async () => {
    client.send('z LOGOUT');
    await client.waitClosed();
    await server.close();
  });

  async function mailboxId(name: string): Promise<string> {
    const reply = await client.command('s', `STATUS "${name}" (MAILBOXID)`);
    assert.equal(reply.length, 2, reply.join('\n'));
    const m = /^\* STATUS "?[^"]*"? \(MAILBOXID \(([A-Za-z0-9_-]{1,255})\)\)$/.exec(reply[0]!);
    assert.ok(m, reply[0]);
    return m[1]!;
  }

  test('RENAME keeps the MAILBOXID; a new mailbox of the old name gets another', async () => {
    const before = await mailboxId('Drafts');
    assert.notEqual(before, await mailboxId('INBOX'));
    await client.command('r', 'RENAME Drafts Old');
    assert.equal(await mailboxId('Old'), before);
    await client.command('c', 'CREATE Drafts');
    assert.notEqual(await mailboxId('Drafts'), before);
  });

  test('LIST RETURN (STATUS (MAILBOXID)) carries the same id', async () => {
    const id = await mailboxId('INBOX');
    const reply = await client.command('l', 'LIST "" INBOX RETURN (STATUS (MAILBOXID))');
    assert.deepEqual(reply, ['* LIST (\\HasNoChildren) "/" "INBOX"', `* STATUS "INBOX" (MAILBOXID (${id}))`, 'l OK LIST completed']);
  });
});
