// `pigeon user add|set --admin[=server|domain]`: the console's admin scopes from the command line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { openStore } from '../../src/store/open.js';

test('--admin makes a server admin, --admin=domain a domain admin, --no-admin removes the right', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
  const file = join(dir, 'pigeon.toml');
  writeFileSync(file, `data_dir = ${JSON.stringify(join(dir, 'data'))}\n`);
  const run = (...argv: string[]) => main([...argv, '--config', file]);
  const write = process.stdout.write;
  const errWrite = process.stderr.write;
  let errors = '';
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => ((errors += chunk), true)) as typeof process.stderr.write;
  try {
    assert.equal(await run('domain', 'add', 'example.com'), 0);
    assert.equal(await run('user', 'add', 'root@example.com', '--password', 'a', '--admin'), 0);
    assert.equal(await run('user', 'add', 'boss@example.com', '--password', 'b', '--admin=domain'), 0);
    assert.equal(await run('user', 'add', 'carl@example.com', '--password', 'c'), 0);
    assert.equal(await run('user', 'set', 'carl@example.com', '--admin=server'), 0);
    assert.equal(await run('user', 'set', 'root@example.com', '--no-admin'), 0);
    assert.equal(await run('user', 'add', 'x@example.com', '--password', 'x', '--admin=everything'), 64);
    assert.match(errors, /--admin takes "server"/);
  } finally {
    process.stdout.write = write;
    process.stderr.write = errWrite;
  }
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: join(dir, 'data') });
  try {
    const rights = async (email: string) => {
      const a = (await store.getAccountByEmail(email))!;
      return a.isAdmin ? a.adminScope : 'none';
    };
    assert.deepEqual(await Promise.all(['root@example.com', 'boss@example.com', 'carl@example.com'].map(rights)), ['none', 'domain', 'server']);
    assert.equal(await store.getAccountByEmail('x@example.com'), undefined);
  } finally {
    await store.close();
  }
});
