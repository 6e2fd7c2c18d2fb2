// SQLite-specific behaviour beyond the conformance suite: schema bookkeeping, file locations, the
// cross-process feed socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { openStore } from '../../src/store/open.js';
import { notifyFeed } from '../../src/store/sqlite/feed.js';
import { sqliteMigrations } from '../../src/store/migrations/sqlite.js';
import { ConfigError } from '../../src/shared/errors.js';
import { indexMessage } from '../../src/mail/parse.js';
import type { Change } from '../../src/store/changes.js';
import type { Store } from '../../src/store/store.js';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function nextChange(store: Store, accountId: number): Promise<Change> {
  return new Promise((resolve) => {
    const off = store.feed.subscribe(accountId, (cs) => {
      off();
      resolve(cs[0]!);
    });
  });
}

test('a new database is in WAL mode with every migration recorded, and reopening applies none again', async (t) => {
  const dir = tempDir(t);
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: path.join(dir, 'data') });
  await store.close();
  const again = await openStore({ driver: 'sqlite', url: '', dataDir: path.join(dir, 'data') });
  await again.close();
  const db = new BetterSqlite3(path.join(dir, 'data', 'pigeon.db'), { readonly: true });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(rows, sqliteMigrations.map((m) => ({ version: m.version, name: m.name })));
  } finally {
    db.close();
  }
});

test('store.url names the database file; postgres without a postgres:// URL is a config error', async (t) => {
  const dir = tempDir(t);
  const file = path.join(dir, 'elsewhere', 'mail.sqlite');
  const store = await openStore({ driver: 'sqlite', url: file, dataDir: path.join(dir, 'data') });
  await store.addDomain('example.com');
  await store.close();
  assert.ok(fs.existsSync(file));
  assert.ok(!fs.existsSync(path.join(dir, 'data', 'pigeon.db')));
  await assert.rejects(openStore({ driver: 'postgres', url: '', dataDir: dir }), (err: unknown) => err instanceof ConfigError && /store\.url/.test(err.message));
});

test('a stale feed socket left by a crashed server is replaced, and another process wakes the new one', async (t) => {
  const dir = tempDir(t);
  fs.writeFileSync(path.join(dir, 'feed.sock'), '');
  const server = await openStore({ driver: 'sqlite', url: '', dataDir: dir, listen: true });
  const cli = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
  t.after(async () => {
    await cli.close();
    await server.close();
  });
  await cli.addDomain('example.com');
  const acct = await cli.createAccount({ email: 'a@example.com', passwordHash: 'x' });
  const inbox = (await cli.getMailbox(acct.id, 'INBOX'))!;
  const woke = nextChange(server, acct.id);
  const bytes = Buffer.from('Subject: x\r\n\r\nbody\r\n');
  await cli.appendMessage(inbox.id, { raw: bytes, index: indexMessage(bytes) });
  assert.deepEqual(await woke, { kind: 'mailbox-changed', accountId: acct.id, mailboxId: inbox.id });
});

test('the feed socket drops malformed messages and keeps serving', async (t) => {
  const dir = tempDir(t);
  const server = await openStore({ driver: 'sqlite', url: '', dataDir: dir, listen: true });
  t.after(() => server.close());
  const sock = path.join(dir, 'feed.sock');
  await new Promise<void>((resolve) => {
    const s = net.connect(sock, () => s.end('not json\n{"m":[["a",1]]}\n{"m":[[1,2,3]]}\n'));
    s.on('close', () => resolve());
  });
  const woke = nextChange(server, 7);
  await notifyFeed(sock, [{ accountId: 7, mailboxId: 9 }]);
  assert.deepEqual(await woke, { kind: 'mailbox-changed', accountId: 7, mailboxId: 9 });
});

test('notifying when no server listens resolves quietly', async (t) => {
  const dir = tempDir(t);
  await notifyFeed(path.join(dir, 'feed.sock'), [{ accountId: 1, mailboxId: 1 }]);
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
  await store.addDomain('example.com');
  await store.createAccount({ email: 'a@example.com', passwordHash: 'x' });
  await store.close();
});

test('a second serving process does not steal the socket of a live one', async (t) => {
  const dir = tempDir(t);
  const first = await openStore({ driver: 'sqlite', url: '', dataDir: dir, listen: true });
  const second = await openStore({ driver: 'sqlite', url: '', dataDir: dir, listen: true });
  t.after(async () => {
    await second.close();
    await first.close();
  });
  const woke = nextChange(first, 3);
  await notifyFeed(path.join(dir, 'feed.sock'), [{ accountId: 3, mailboxId: 4 }]);
  assert.equal((await woke).mailboxId, 4);
});

test('a data folder too deep for a Unix socket path still gets cross-process wake-ups', async (t) => {
  const dir = tempDir(t);
  const deep = path.join(dir, 'x'.repeat(60), 'y'.repeat(60));
  const server = await openStore({ driver: 'sqlite', url: '', dataDir: deep, listen: true });
  const cli = await openStore({ driver: 'sqlite', url: '', dataDir: deep });
  t.after(async () => {
    await cli.close();
    await server.close();
  });
  await cli.addDomain('example.com');
  const acct = await cli.createAccount({ email: 'a@example.com', passwordHash: 'x' });
  const woke = nextChange(server, acct.id);
  await cli.setSubscribed(acct.id, 'Lists', true);
  assert.equal((await woke).kind, 'mailbox-changed');
  assert.ok(!fs.existsSync(path.join(deep, 'feed.sock')));
});

test('another process appending at the same time gets distinct UIDs and wakes the server', async (t) => {
  const dir = tempDir(t);
  const server = await openStore({ driver: 'sqlite', url: '', dataDir: dir, listen: true });
  t.after(() => server.close());
  await server.addDomain('example.com');
  const acct = await server.createAccount({ email: 'a@example.com', passwordHash: 'x' });
  const inbox = (await server.getMailbox(acct.id, 'INBOX'))!;
  const woke = new Promise<void>((resolve) => {
    server.feed.subscribe(acct.id, (cs) => {
      if (cs.some((c) => c.kind === 'mailbox-changed' && c.mailboxId === inbox.id)) resolve();
    });
  });
  // Compiled (npm test) the worker is append-worker.js beside this file; under tsx it is the .ts.
  const compiled = import.meta.url.endsWith('.js');
  const worker = fileURLToPath(new URL(compiled ? './append-worker.js' : './append-worker.ts', import.meta.url));
  const child = new Promise<number[]>((resolve, reject) => {
    execFile(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), worker, dir, String(inbox.id), '40'], { cwd: process.cwd() }, (err, stdout) => {
      if (err) reject(err);
      else resolve(JSON.parse(stdout) as number[]);
    });
  });
  const mine: number[] = [];
  // Keep appending from this process until the child is done (at least 40 times).
  let childDone = false;
  void child.then(() => (childDone = true), () => (childDone = true));
  for (let i = 0; i < 40 || !childDone; i++) {
    const raw = Buffer.from(`Subject: parent ${i}\r\n\r\nfrom the server\r\n`);
    mine.push((await server.appendMessage(inbox.id, { raw, index: indexMessage(raw) })).uid);
    if (i > 5000) break;
  }
  const theirs = await child;
  await woke;
  const all = [...mine, ...theirs];
  assert.equal(new Set(all).size, all.length, 'no UID given twice');
  assert.deepEqual((await server.listMessageStates(inbox.id)).map((m) => m.uid), [...all].sort((a, b) => a - b));
  assert.deepEqual(await server.check(), []);
});

test('a commit is acknowledged, published and shown to readers only after its WAL fsync', async (t) => {
  const dir = tempDir(t);
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
  t.after(() => store.close());
  await store.addDomain('example.com');
  const acct = await store.createAccount({ email: 'a@example.com', passwordHash: 'x' });
  const inbox = (await store.getMailbox(acct.id, 'INBOX'))!;
  const order: string[] = [];
  store.feed.subscribe(acct.id, () => order.push('published'));
  const raw = Buffer.from('Subject: durable\r\n\r\nbody\r\n');
  const append = store.appendMessage(inbox.id, { raw, index: indexMessage(raw) }).then((r) => {
    order.push('acknowledged');
    return r;
  });
  // The group commit runs in this turn's check phase; the fsync of the WAL completes later, on
  // libuv's pool. A read issued in between must not see the committed but unsynced message.
  await new Promise((resolve) => setImmediate(resolve));
  const seen = await store.getMailbox(acct.id, 'INBOX');
  order.push('read');
  assert.deepEqual(order, ['published', 'acknowledged', 'read']);
  assert.equal(seen!.uidNext, (await append).uid + 1);
  const states = await store.listMessageStates(inbox.id);
  assert.deepEqual(states.map((s) => s.uid), [(await append).uid]);
});

test('domains and My Networks are cached, and a change by another process is seen within a moment', async (t) => {
  const dir = tempDir(t);
  const server = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
  t.after(() => server.close());
  await server.addDomain('example.com');
  assert.ok(await server.getDomain('example.com'));
  assert.equal(await server.getDomain('other.example'), undefined);
  assert.deepEqual(await server.listNetworks(), []);
  // A caller changing what it got back does not change the cache.
  const d = (await server.getDomain('example.com'))!;
  d.settings.pushAllowedHosts.push('mutated.example');
  assert.deepEqual((await server.getDomain('example.com'))!.settings.pushAllowedHosts, []);
  // Own writes are seen at once.
  await server.updateDomainSettings('example.com', { pushAllowedHosts: ['relay.example'] });
  assert.deepEqual((await server.getDomain('example.com'))!.settings.pushAllowedHosts, ['relay.example']);
  // Another connection (the CLI in another process) adds a domain and a network.
  const cli = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
  await cli.addDomain('other.example');
  await cli.addNetwork('192.0.2.0/24');
  await cli.close();
  const deadline = Date.now() + 5000;
  while (!(await server.getDomain('other.example')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.ok(await server.getDomain('other.example'));
  assert.deepEqual((await server.listNetworks()).map((n) => n.cidr), ['192.0.2.0/24']);
});
