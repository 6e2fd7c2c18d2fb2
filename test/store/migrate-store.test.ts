// `pigeon migrate-store --to postgres://…`: an SQLite installation with content, copied into an
// empty PostgreSQL database, then compared through the Store interface on both engines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { main } from '../../src/cli/main.js';
import { openStore } from '../../src/store/open.js';
import { indexMessage } from '../../src/mail/parse.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase, hasPostgres } from '../harness/engines.js';

function raw(subject: string): Buffer {
  return Buffer.from(`From: carol@example.org\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\n${subject} body\r\n`);
}

async function fill(store: Store): Promise<void> {
  await store.addDomain('example.com');
  await store.addDomain('other.example');
  await store.updateDomainSettings('example.com', { pushEnabled: true, pushAllowedHosts: ['relay.example.net'] });
  const alice = await store.createAccount({ email: 'Alice@example.com', passwordHash: 'hash-a', quota: 10_000_000 });
  await store.createAccount({ email: 'bob@other.example', passwordHash: 'hash-b', isAdmin: true, adminScope: 'domain' });
  await store.addAlias('info@example.com', ['alice@example.com', 'bob@other.example']);
  await store.addAlias('@other.example', ['bob@other.example']);
  await store.addNetwork('192.0.2.0/24', 'office');
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))!.id;
  for (const s of ['one', 'two', 'three', 'four']) await store.appendMessage(inbox, { raw: raw(s), index: indexMessage(raw(s)), flags: s === 'two' ? ['\\Seen', '$Work'] : [] });
  await store.storeFlags(inbox, [3], { mode: 'add', flags: ['\\Flagged'] });
  await store.expunge(inbox, [4]);
  const work = await store.createMailbox(alice.id, 'Projects/Work', { subscribed: true });
  await store.copyMessages(inbox, [1, 2], work.id);
  const gone = await store.createMailbox(alice.id, 'Old');
  await store.deleteMailbox(gone.id);
  await store.setSubscribed(alice.id, 'Not/There', true);
  await store.renameMailbox(work.id, 'Projects/Done');
  await store.claimRecent(inbox);
  await store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: 'x@remote.example', notify: ['FAILURE'], orcpt: null }], raw: raw('one'), dsnRet: 'HDRS', dsnEnvid: 'e1', accountId: alice.id });
  await store.queue.putDkimKey({ domain: 'example.com', selector: 's1', privateKey: 'PRIV', publicKey: 'PUB', createdAt: 1 });
}

/** Everything observable through the Store interface, engine-independent. */
async function snapshot(store: Store): Promise<unknown> {
  const accounts = await store.listAccounts();
  const out: Record<string, unknown> = {
    domains: await store.listDomains(), accounts, aliases: await store.listAliases(), networks: await store.listNetworks(),
    queue: await store.listQueue(), dkim: await store.queue.listDkimKeys(),
  };
  for (const a of accounts) {
    const boxes = await store.listMailboxes(a.id);
    const messages: Record<string, unknown> = {};
    for (const m of boxes) {
      const states = await store.listMessageStates(m.id);
      const metas = await store.getMessageMeta(m.id, states.map((s) => s.uid));
      messages[m.name] = {
        metas,
        blobs: await Promise.all(metas.map(async (x) => (await store.readBlob(x.blobHash)).toString('latin1'))),
        journal: await store.changesSince(m.id, 0),
        recent: await store.claimRecent(m.id),
      };
    }
    out[a.email] = { boxes, messages, subscriptions: await store.listSubscriptions(a.id), sentCopy: await store.queue.getSentCopy(a.id) };
  }
  return out;
}

test('migrate-store copies an SQLite installation into PostgreSQL, identical through the Store interface', { skip: hasPostgres ? false : 'PostgreSQL not reachable' }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const db = await createTestDatabase();
  t.after(async () => {
    await db.drop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const sqlite = await openStore({ driver: 'sqlite', url: '', dataDir: path.join(dir, 'data') });
  await fill(sqlite);
  await sqlite.close();
  const configFile = path.join(dir, 'pigeon.toml');
  fs.writeFileSync(configFile, `data_dir = ${JSON.stringify(path.join(dir, 'data'))}\n`);

  assert.equal(await main(['migrate-store', '--config', configFile, '--to', db.url]), 0);

  const pg = await openStore({ driver: 'postgres', url: db.url, dataDir: dir });
  try {
    // Each snapshot also claims \Recent: the copy carries recent_uid, so both answer the same.
    const again = await openStore({ driver: 'sqlite', url: '', dataDir: path.join(dir, 'data') });
    const expected = await snapshot(again);
    await again.close();
    assert.deepEqual(await snapshot(pg), expected);
    assert.deepEqual(await pg.check(), []);
    // Counters and sequences continue after the copied ones.
    const alice = (await pg.getAccountByEmail('alice@example.com'))!;
    const inbox = (await pg.getMailbox(alice.id, 'INBOX'))!;
    const r = await pg.appendMessage(inbox.id, { raw: raw('five'), index: indexMessage(raw('five')) });
    assert.equal(r.uid, 5);
    assert.equal(r.modseq, inbox.highestModseq + 1);
    const fresh = await pg.createMailbox(alice.id, 'Fresh');
    assert.ok(fresh.uidValidity > Math.max(...(await pg.listMailboxes(alice.id)).filter((m) => m.id !== fresh.id).map((m) => m.uidValidity)));
    await pg.addDomain('new.example');
  } finally {
    await pg.close();
  }
  // A second run into a non-empty database is refused and changes nothing.
  assert.equal(await main(['migrate-store', '--config', configFile, '--to', db.url]), 1);
});
