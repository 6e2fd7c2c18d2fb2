// `pigeon queue …`, `pigeon dkim …` and `pigeon user set --sent-copy`, driven in-process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { openStore } from '../../src/store/open.js';

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  const write = process.stdout.write;
  const errWrite = process.stderr.write;
  let out = '';
  let err = '';
  process.stdout.write = ((chunk: string) => ((out += chunk), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((err += chunk), true)) as typeof process.stderr.write;
  try {
    return { code: await fn(), out, err };
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
}

test('queue list/show/retry/remove/flush with --json, dkim generate prints the record, --sent-copy toggles', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
  const data = join(dir, 'data');
  const file = join(dir, 'pigeon.toml');
  writeFileSync(file, `data_dir = ${JSON.stringify(data)}\n`);
  const run = (...argv: string[]) => capture(() => main([...argv, '--config', file]));
  assert.equal((await run('domain', 'add', 'example.com')).code, 0);
  assert.equal((await run('user', 'add', 'alice@example.com', '--password', 'pw')).code, 0);

  let store = await openStore({ driver: 'sqlite', url: '', dataDir: data });
  const q = await store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }], raw: Buffer.from('Subject: hi\r\n\r\nbody\r\n'), dsnRet: null, dsnEnvid: null, accountId: null });
  await store.close();

  const list = await run('queue', 'list', '--json');
  assert.equal(list.code, 0);
  const entries = JSON.parse(list.out) as Array<{ id: number; sender: string; recipients: Array<{ address: string; state: string }> }>;
  assert.deepEqual(entries.map((e) => [e.id, e.sender, e.recipients[0]!.address, e.recipients[0]!.state]), [[q.id, 'alice@example.com', 'bob@remote.test', 'queued']]);
  const shown = JSON.parse((await run('queue', 'show', String(q.id), '--json')).out) as { message: string };
  assert.match(shown.message, /^Subject: hi/);
  assert.deepEqual(JSON.parse((await run('queue', 'retry', String(q.id), '--json')).out), { id: q.id, recipients: 1 });
  assert.deepEqual(JSON.parse((await run('queue', 'flush', '--json')).out), { recipients: 1 });
  assert.equal((await run('queue', 'remove', String(q.id))).code, 0);
  assert.deepEqual(JSON.parse((await run('queue', 'list', '--json')).out), []);
  const missing = await run('queue', 'show', String(q.id));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /does not exist/);
  assert.equal((await run('queue', 'show', 'abc')).code, 64);

  const dkim = await run('dkim', 'generate', 'example.com', '--selector', 'may2026');
  assert.equal(dkim.code, 0);
  assert.match(dkim.out, /^may2026\._domainkey\.example\.com\. IN TXT \( "v=DKIM1; k=rsa; p=/m);
  const record = JSON.parse((await run('dkim', 'show', 'example.com', '--json')).out) as { selector: string; record: { name: string } };
  assert.equal(record.record.name, 'may2026._domainkey.example.com');
  assert.equal((await run('dkim', 'generate', 'nowhere.test')).code, 1);

  assert.equal((await run('user', 'set', 'alice@example.com', '--sent-copy', 'on')).code, 0);
  assert.equal((await run('user', 'set', 'alice@example.com', '--sent-copy', 'maybe')).code, 64);
  store = await openStore({ driver: 'sqlite', url: '', dataDir: data });
  try {
    const alice = (await store.getAccountByEmail('alice@example.com'))!;
    assert.equal(await store.queue.getSentCopy(alice.id), true);
  } finally {
    await store.close();
  }
});
