// Which outgoing mail Pigeon DKIM-signs, end to end over real SMTP (issue 8): mail relayed by a
// client in My Networks (printers, web apps) is ours and signed with the From domain's key; mail
// from outside that an alias forwards is passed on unsigned, whatever its From says. The SMTP
// server and the queue worker share one store; the remote MX is a local sink, and mailauth checks
// the signature against the key's published record through a resolver of its own.
// Also: rows queued before the signing flag existed keep the earlier rule after the migration.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { SmtpSink, type SinkTransaction } from '../harness/smtp-sink.js';
import { engines, storeOverrides } from '../harness/engines.js';
import { expectReply, message, ready, send, startTestServer, type TestServer } from '../smtp/harness.js';
import { dkimRecord, generateDkimKey } from '../../src/queue/dkim.js';
import { startQueueWorker, type QueueWorker } from '../../src/queue/worker.js';
import type { QueueResolver } from '../../src/queue/mx.js';
import { openStore } from '../../src/store/open.js';
import { sqliteMigrations } from '../../src/store/migrations/sqlite.js';
import { postgresMigrations } from '../../src/store/migrations/postgres.js';
import { silentLogger } from '../../src/shared/logger.js';

interface Setup {
  s: TestServer;
  sink: SmtpSink;
  worker: QueueWorker;
  /** mailauth's DNS: only the example.com key's TXT record exists. */
  resolver: (name: string, type: string) => Promise<string[][]>;
  close(): Promise<void>;
}

async function setup(): Promise<Setup> {
  const s = await startTestServer({ listeners: { submission: '', submissions: '', lmtp: '' } });
  const sink = await SmtpSink.start();
  const mx: QueueResolver = {
    resolveMx: async (domain) => [{ exchange: `mx.${domain}`, priority: 10 }],
    resolve4: async () => ['127.0.0.1'],
    resolve6: async () => [],
  };
  // A long poll: each message goes out on the kick after SMTP's 250.
  const worker = await startQueueWorker({ config: s.config, store: s.store, logger: silentLogger(), resolver: mx, mxPort: sink.port, pollMs: 600_000 });
  const record = dkimRecord(await generateDkimKey(s.store, 'example.com'));
  const resolver = async (name: string, type: string) => {
    if (type === 'TXT' && name === record.name) return [[record.value]];
    throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  };
  return {
    s, sink, worker, resolver,
    async close() {
      await worker.close();
      await sink.close();
      await s.close();
    },
  };
}

/** Port 25, unauthenticated: MAIL, RCPT, DATA; expects 250, then wakes the worker. */
async function relay(t: Setup, from: string, to: string, body: string): Promise<void> {
  const c = await ready(t.s.port('smtp'));
  try {
    expectReply(await send(c, from, [to], body), 250);
  } finally {
    c.close();
  }
  t.worker.kick();
}

function subjectOf(tx: SinkTransaction): string {
  const header = tx.data.toString('latin1').split('\r\n\r\n', 1)[0]!;
  return /^Subject: (.*)$/m.exec(header)?.[1] ?? '';
}

/** The DKIM verdicts mailauth finds in a delivered message: [signing domain, result] per signature. */
async function verdicts(t: Setup, tx: SinkTransaction): Promise<Array<[string | undefined, string]>> {
  const result = await dkimVerify(tx.data, { resolver: t.resolver });
  return result.results.filter((r) => r.status.result !== 'none').map((r) => [r.signingDomain, r.status.result]);
}

async function bySubject(t: Setup, n: number): Promise<Map<string, SinkTransaction>> {
  const txs = await t.sink.waitForMessages(n);
  return new Map(txs.map((tx) => [subjectOf(tx), tx]));
}

describe('DKIM signing by where the mail comes from (issue 8)', { timeout: 60_000 }, () => {
  test('mail relayed from a My Networks address is signed with the From domain key and verifies; a foreign From is not signed', async () => {
    const t = await setup();
    try {
      await t.s.store.addNetwork('127.0.0.1/32', 'office printers');
      await relay(t, 'printer@example.com', 'someone@remote.test', message('scan ready', 'Your scan is attached.\r\n').replace('From: alice@example.com', 'From: Office Printer <printer@example.com>'));
      await relay(t, 'app@other.test', 'someone@remote.test', message('app notice').replace('From: alice@example.com', 'From: App <app@other.test>'));
      const got = await bySubject(t, 2);
      const scan = got.get('scan ready')!;
      assert.equal(scan.from, 'printer@example.com');
      assert.deepEqual(await verdicts(t, scan), [['example.com', 'pass']]);
      // The signature covers the body: a changed body no longer verifies (the check can fail).
      const tampered = { ...scan, data: Buffer.from(scan.data.toString('latin1').replace('Your scan', 'Our scan'), 'latin1') };
      const [broken] = await verdicts(t, tampered);
      assert.equal(broken?.[0], 'example.com');
      assert.notEqual(broken?.[1], 'pass');
      assert.deepEqual(await verdicts(t, got.get('app notice')!), []);
      await t.worker.idle();
      assert.deepEqual(await t.s.store.listQueue(), []);
    } finally {
      await t.close();
    }
  });

  test('mail from outside forwarded by an alias is not signed, even with our From; from My Networks it is', async () => {
    const t = await setup();
    try {
      await t.s.store.addAlias('fwd@example.com', ['someone@remote.test']);
      // From outside (127.0.0.1 is not in My Networks yet): an ordinary sender and a null sender
      // (a bounce), both with a From in our signing domain.
      await relay(t, 'news@remote.test', 'fwd@example.com', message('forwarded news'));
      await relay(t, '', 'fwd@example.com', message('forwarded bounce'));
      let got = await bySubject(t, 2);
      for (const subject of ['forwarded news', 'forwarded bounce']) {
        const tx = got.get(subject)!;
        assert.deepEqual(tx.to, ['someone@remote.test'], subject);
        assert.deepEqual(await verdicts(t, tx), [], subject);
      }
      // The same alias used by a client in My Networks: ours, signed.
      await t.s.store.addNetwork('127.0.0.1/32', 'office');
      await relay(t, 'printer@example.com', 'fwd@example.com', message('forwarded from office'));
      got = await bySubject(t, 3);
      assert.deepEqual(await verdicts(t, got.get('forwarded from office')!), [['example.com', 'pass']]);
    } finally {
      await t.close();
    }
  });
});

describe('queued mail from before the signing flag (migration)', () => {
  for (const engine of engines) {
    test(`${engine}: rows queued earlier are signed when an account submitted them or they are DSNs`, async (t) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
      const { overrides, cleanup } = await storeOverrides(engine);
      t.after(async () => {
        await cleanup();
        fs.rmSync(dir, { recursive: true, force: true });
      });
      const url = (overrides['store'] as { url?: string } | undefined)?.url ?? '';
      const open = () => openStore({ driver: engine, url, dataDir: dir });
      const store = await open();
      await store.addDomain('example.com');
      const alice = await store.createAccount({ email: 'alice@example.com', passwordHash: 'x' });
      const base = { raw: Buffer.from(message('old')), dsnRet: null, dsnEnvid: null, recipients: [{ address: 'x@remote.test', notify: [], orcpt: null }] };
      // The flags given here are lost with the column below; the migration decides anew.
      const submitted = await store.enqueueMessage({ ...base, sender: 'alice@example.com', accountId: alice.id, dkimSign: false });
      const dsn = await store.enqueueMessage({ ...base, sender: '', accountId: null, dkimSign: false });
      const passing = await store.enqueueMessage({ ...base, sender: 'news@remote.test', accountId: null, dkimSign: true });
      await store.close();
      // Back to the schema before the flag: no column, the migration not recorded.
      const sqliteVersion = sqliteMigrations.find((m) => m.name === 'queue dkim sign')!.version;
      const postgresVersion = postgresMigrations.find((m) => m.name === 'queue dkim sign')!.version;
      if (engine === 'sqlite') {
        const db = new BetterSqlite3(path.join(dir, 'pigeon.db'));
        try {
          db.exec('ALTER TABLE queue_messages DROP COLUMN dkim_sign');
          db.prepare('DELETE FROM schema_migrations WHERE version = ?').run(sqliteVersion);
        } finally {
          db.close();
        }
      } else {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          await client.query('ALTER TABLE queue_messages DROP COLUMN dkim_sign');
          await client.query('DELETE FROM schema_migrations WHERE version = $1', [postgresVersion]);
        } finally {
          await client.end();
        }
      }
      const again = await open();
      try {
        assert.deepEqual((await again.listQueue()).map((q) => [q.id, q.dkimSign]), [[submitted.id, true], [dsn.id, true], [passing.id, false]]);
      } finally {
        await again.close();
      }
    });
  }
});
