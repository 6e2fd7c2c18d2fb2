// imapflow (a real client) against a started server: STARTTLS on the plain port with plaintext
// passwords refused, LIST with special-use, headers-only and partial fetch, APPEND to Sent with
// APPENDUID, IDLE receiving EXISTS for a delivered message, MOVE, EXPUNGE seen by another session.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { FIXTURES, startTestServer, type TestServer } from '../harness/transcript.js';

const simple = fs.readFileSync(path.join(FIXTURES, 'simple.eml'));
const lunch = fs.readFileSync(path.join(FIXTURES, 'lunch.eml'));

async function withServer(fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer({ config: { auth: { allow_plaintext: false } } });
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

async function connect(server: TestServer, options: { secure?: boolean } = {}): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: options.secure ? server.tlsPort : server.port,
    secure: options.secure ?? false,
    auth: { user: 'user@example.com', pass: 'pass' },
    tls: { rejectUnauthorized: false },
    logger: false,
    disableAutoIdle: true,
  });
  await client.connect();
  return client;
}

function nextEvent<T>(client: ImapFlow, event: 'exists' | 'expunge'): Promise<T> {
  return new Promise((resolve) => client.once(event, (data: T) => resolve(data)));
}

describe('imapflow', () => {
  test('logs in after STARTTLS and lists the special-use mailboxes', async () => {
    await withServer(async (server) => {
      const client = await connect(server);
      try {
        assert.equal(client.secureConnection, true);
        const list = await client.list();
        const byPath = new Map(list.map((m) => [m.path, m]));
        assert.deepEqual([...byPath.keys()].sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        assert.equal(byPath.get('Sent')?.specialUse, '\\Sent');
        assert.equal(byPath.get('Trash')?.specialUse, '\\Trash');
      } finally {
        await client.logout();
      }
    });
  });

  test('logs in over implicit TLS', async () => {
    await withServer(async (server) => {
      const client = await connect(server, { secure: true });
      try {
        const box = await client.mailboxOpen('INBOX');
        assert.equal(box.exists, 0);
      } finally {
        await client.logout();
      }
    });
  });

  test('fetches headers only and a partial body without setting \\Seen', async () => {
    await withServer(async (server) => {
      await server.deliver(simple, 'user@example.com');
      const client = await connect(server);
      try {
        await client.mailboxOpen('INBOX');
        const headers = await client.fetchOne('1', { headers: true, size: true });
        assert.ok(headers);
        const text = headers.headers!.toString();
        assert.ok(text.startsWith('From: Alice <alice@example.org>\r\n'), text);
        assert.ok(text.endsWith('\r\n\r\n'));
        assert.ok(!text.includes('Hello there'));
        assert.equal(headers.size, simple.length);
        const partial = await client.fetchOne('1', { source: { start: 0, maxLength: 2048 } });
        assert.ok(partial);
        assert.deepEqual(partial.source, simple);
        const cut = await client.fetchOne('1', { source: { start: 6, maxLength: 5 } });
        assert.ok(cut);
        assert.equal(cut.source!.toString(), 'Alice');
        const flags = await client.fetchOne('1', { flags: true });
        assert.ok(flags);
        assert.equal(flags.flags!.has('\\Seen'), false);
      } finally {
        await client.logout();
      }
    });
  });

  test('APPEND to Sent answers APPENDUID', async () => {
    await withServer(async (server) => {
      const client = await connect(server);
      try {
        const first = await client.append('Sent', lunch, ['\\Seen']);
        const second = await client.append('Sent', simple);
        assert.ok(first && second);
        assert.equal(first.uid, 1);
        assert.equal(second.uid, 2);
        assert.equal(first.uidValidity, second.uidValidity);
        const status = await client.status('Sent', { messages: true, unseen: true });
        assert.ok(status);
        assert.equal(status.messages, 2);
        assert.equal(status.unseen, 1);
      } finally {
        await client.logout();
      }
    });
  });

  test('IDLE receives EXISTS for a message put in by deliverMessage', async () => {
    await withServer(async (server) => {
      const client = await connect(server);
      try {
        await client.mailboxOpen('INBOX');
        const exists = nextEvent<{ count: number; prevCount: number }>(client, 'exists');
        const idling = client.idle();
        await server.deliver(simple, 'user@example.com');
        const event = await exists;
        assert.equal(event.count, 1);
        assert.equal(event.prevCount, 0);
        const msg = await client.fetchOne('*', { envelope: true });
        assert.ok(msg);
        assert.equal(msg.envelope!.subject, 'Hello');
        await idling;
      } finally {
        await client.logout();
      }
    });
  });

  test('MOVE answers COPYUID and the EXPUNGE reaches the other session', async () => {
    await withServer(async (server) => {
      await server.deliver(simple, 'user@example.com');
      await server.deliver(lunch, 'user@example.com');
      const mover = await connect(server);
      const watcher = await connect(server);
      try {
        await mover.mailboxOpen('INBOX');
        await watcher.mailboxOpen('INBOX');
        const expunged = nextEvent<{ seq: number }>(watcher, 'expunge');
        const idling = watcher.idle();
        const moved = await mover.messageMove('1', 'Archive', { uid: true });
        assert.ok(moved);
        assert.equal(moved.uidMap?.get(1), 1);
        assert.equal((await expunged).seq, 1);
        const archive = await mover.status('Archive', { messages: true });
        assert.ok(archive);
        assert.equal(archive.messages, 1);
        const left = await mover.fetchAll('1:*', { uid: true });
        assert.deepEqual(left.map((m) => m.uid), [2]);
        const seen = await watcher.fetchAll('1:*', { uid: true });
        assert.deepEqual(seen.map((m) => m.uid), [2]);
        await idling;
      } finally {
        await mover.logout();
        await watcher.logout();
      }
    });
  });
});
