// PostgreSQL-specific behaviour beyond the conformance suite: migrations raced by nodes starting
// together, quota, rename and \Recent when two nodes write at once, the LISTEN connection coming
// back after the database drops it, and the change feed's NOTIFY payloads.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openStore } from '../../src/store/open.js';
import { postgresMigrations } from '../../src/store/migrations/postgres.js';
import { notifyPayloads, parsePayload } from '../../src/store/postgres/feed.js';
import { indexMessage } from '../../src/mail/parse.js';
import { Refused } from '../../src/shared/errors.js';
import type { Change } from '../../src/store/changes.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase, hasPostgres } from '../harness/engines.js';

async function nodes(t: { after(fn: () => Promise<void>): void }, count: number): Promise<{ url: string; stores: Store[] }> {
  const db = await createTestDatabase();
  const stores: Store[] = [];
  t.after(async () => {
    for (const s of stores) await s.close();
    await db.drop();
  });
  // Started together: the migrations race under the advisory lock.
  stores.push(...(await Promise.all(Array.from({ length: count }, (_, i) => openStore({ driver: 'postgres', url: db.url, dataDir: '/nonexistent', listen: i === 0 })))));
  return { url: db.url, stores };
}

function message(subject: string, size = 0): { raw: Buffer; index: ReturnType<typeof indexMessage> } {
  const raw = Buffer.from(`Subject: ${subject}\r\n\r\n${'x'.repeat(size)}\r\n`);
  return { raw, index: indexMessage(raw) };
}

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('postgres engine', { skip: hasPostgres ? false : 'PostgreSQL not reachable' }, () => {
  test('three nodes starting together apply each migration once', async (t) => {
    const { url, stores } = await nodes(t, 3);
    assert.equal(stores.length, 3);
    const rows = await query<{ version: number; name: string }>(url, 'SELECT version, name FROM schema_migrations ORDER BY version');
    assert.deepEqual(rows, postgresMigrations.map((m) => ({ version: m.version, name: m.name })));
  });

  test('concurrent appends from two nodes never exceed the quota and account every byte', async (t) => {
    const { stores: [a, b] } = await nodes(t, 2);
    await a!.addDomain('example.com');
    const size = message('q', 1000).raw.length;
    const acct = await a!.createAccount({ email: 'q@example.com', passwordHash: 'x', quota: size * 5 });
    const inbox = (await a!.getMailbox(acct.id, 'INBOX'))!.id;
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => (i % 2 ? a! : b!).appendMessage(inbox, message('q', 1000))));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r) => r.status === 'rejected');
    assert.equal(ok.length, 5);
    for (const r of refused) assert.ok(r.reason instanceof Refused && r.reason.code === 'OVERQUOTA', String(r.reason));
    assert.equal((await b!.getAccount(acct.id))!.usedBytes, size * 5);
    assert.equal((await b!.getMailboxById(inbox))!.uidNext, 6);
    assert.deepEqual(await a!.check(), []);
  });

  test('renaming on one node while another creates the target name: exactly one wins, children follow', async (t) => {
    const { stores: [a, b] } = await nodes(t, 2);
    await a!.addDomain('example.com');
    const acct = await a!.createAccount({ email: 'r@example.com', passwordHash: 'x' });
    for (let round = 0; round < 5; round++) {
      const box = await a!.createMailbox(acct.id, `Box${round}/Child`);
      const parent = (await a!.getMailbox(acct.id, `Box${round}`))!;
      await a!.appendMessage(box.id, message(`r${round}`));
      const [renamed, created] = await Promise.allSettled([a!.renameMailbox(parent.id, `Moved${round}`), b!.createMailbox(acct.id, `Moved${round}`)]);
      assert.equal([renamed, created].filter((r) => r.status === 'fulfilled').length, 1, `round ${round}`);
      for (const r of [renamed, created]) if (r.status === 'rejected') assert.equal((r.reason as Refused).code, 'ALREADYEXISTS');
      const names = (await b!.listMailboxes(acct.id)).map((m) => m.name);
      assert.equal(new Set(names).size, names.length);
      const child = renamed.status === 'fulfilled' ? `Moved${round}/Child` : `Box${round}/Child`;
      const kept = (await b!.getMailbox(acct.id, child))!;
      assert.equal(kept.id, box.id);
      assert.equal(kept.uidValidity, box.uidValidity);
      assert.equal(kept.messageCount, 1);
    }
    assert.deepEqual(await a!.check(), []);
  });

  test('claimRecent on two nodes at once gives each new UID to exactly one of them', async (t) => {
    const { stores: [a, b] } = await nodes(t, 2);
    await a!.addDomain('example.com');
    const acct = await a!.createAccount({ email: 'c@example.com', passwordHash: 'x' });
    const inbox = (await a!.getMailbox(acct.id, 'INBOX'))!.id;
    const claimed: number[] = [];
    for (let round = 0; round < 5; round++) {
      await Promise.all([a!.appendMessage(inbox, message(`a${round}`)), b!.appendMessage(inbox, message(`b${round}`))]);
      const [x, y] = await Promise.all([a!.claimRecent(inbox), b!.claimRecent(inbox)]);
      assert.ok(x.length === 0 || y.length === 0, `round ${round}: ${JSON.stringify([x, y])}`);
      claimed.push(...x, ...y);
    }
    assert.deepEqual(claimed, Array.from({ length: 10 }, (_, i) => i + 1));
  });

  test('the LISTEN connection comes back after the database terminates it', async (t) => {
    const { url, stores: [serving, other] } = await nodes(t, 2);
    await other!.addDomain('example.com');
    const acct = await other!.createAccount({ email: 'l@example.com', passwordHash: 'x' });
    const inbox = (await other!.getMailbox(acct.id, 'INBOX'))!.id;
    const woken: Change[] = [];
    let wake: (() => void) | undefined;
    serving!.feed.subscribe(acct.id, (changes) => {
      woken.push(...changes);
      wake?.();
    });
    const killed = await query<{ n: number }>(url,
      `SELECT COUNT(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`);
    assert.equal(killed[0]!.n, 1);
    // Notifications sent while it is away are lost (promptness only); keep writing until one arrives.
    for (let attempt = 0; woken.length === 0; attempt++) {
      assert.ok(attempt < 100, 'the listener never came back');
      const arrived = new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100).unref();
      });
      await other!.appendMessage(inbox, message(`l${attempt}`));
      await arrived;
    }
    assert.deepEqual(woken[0], { kind: 'mailbox-changed', accountId: acct.id, mailboxId: inbox });
  });

  test('NOTIFY payloads are small, deduplicated, tagged with the node, and parsed back', () => {
    const changes: Change[] = Array.from({ length: 250 }, (_, i) => ({ kind: 'message-added', accountId: 1, mailboxId: 1 + (i % 150), uid: i + 1, modseq: i + 2 }));
    const payloads = notifyPayloads('node-1', changes);
    assert.equal(payloads.length, 2);
    for (const p of payloads) assert.ok(Buffer.byteLength(p) < 8000);
    const parsed = payloads.map((p) => parsePayload(p)!);
    assert.equal(parsed[0]!.node, 'node-1');
    assert.equal(parsed.flatMap((p) => p.entries).length, 150);
    assert.equal(parsePayload('{"n":"x","e":[[1,"two","message-added"]]}'), undefined);
    assert.equal(parsePayload('not json'), undefined);
  });
});
