// `pigeon user app-password add|list|remove`, run in-process with its output captured, against a
// real SQLite store; what it prints is then used to log in through the Authenticator.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { runPigeon } from '../harness/cli.js';

const pigeon = runPigeon;

const auth = { allow_plaintext: false, failure_delay_ms: 0, max_failure_delay_ms: 0, lockout_failures: 10, lockout_seconds: 60 };

async function login(dir: string, password: string): Promise<{ ok: boolean; credential?: unknown }> {
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: join(dir, 'data') });
  try {
    const r = await new Authenticator(store, { auth }).authenticate({ username: 'alice@example.com', password, remoteAddress: '192.0.2.1', protocol: 'imap' });
    return r.ok ? { ok: true, credential: r.credential } : { ok: false };
  } finally {
    await store.close();
  }
}

describe('pigeon user app-password', () => {
  test('add prints the password once, list shows it without the password, remove revokes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
    writeFileSync(join(dir, 'pigeon.toml'), 'hostname = "mail.example.test"\ndata_dir = "./data"\n');
    const store = await openStore({ driver: 'sqlite', url: '', dataDir: join(dir, 'data') });
    await store.addDomain('example.com');
    await store.createAccount({ email: 'alice@example.com', passwordHash: await hashPassword('alice pw') });
    await store.close();

    const added = await pigeon(dir, ['user', 'app-password', 'add', 'Alice@Example.com', '--name', 'Phone']);
    assert.equal(added.code, 0, added.stderr);
    const lines = added.stdout.split('\n');
    assert.equal(lines[0], 'app password 1 (Phone) added for Alice@example.com:');
    const password = lines[2]!.trim();
    assert.match(password, /^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
    assert.deepEqual(await login(dir, password), { ok: true, credential: { kind: 'app', id: 1, name: 'Phone' } });
    // Only its hash is on disk.
    assert.equal(readFileSync(join(dir, 'data', 'pigeon.db')).includes(password.replace(/ /g, '')), false);

    const json = await pigeon(dir, ['user', 'app-password', 'add', 'alice@example.com', '--name', 'Laptop', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const laptop = JSON.parse(json.stdout) as { id: number; name: string; password: string };
    assert.deepEqual([laptop.id, laptop.name], [2, 'Laptop']);

    const list = await pigeon(dir, ['user', 'app-password', 'list', 'alice@example.com', '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as Array<{ id: number; name: string; createdAt: string; lastUsedAt: string | null }>;
    assert.deepEqual(rows.map((r) => [r.id, r.name, r.lastUsedAt !== null]), [[1, 'Phone', true], [2, 'Laptop', false]]);
    assert.ok(!list.stdout.includes(password) && !list.stdout.includes(laptop.password));
    const text = await pigeon(dir, ['user', 'app-password', 'list', 'alice@example.com']);
    assert.deepEqual(text.stdout.split('\n')[0]!.split(/\s{2,}/), ['ID', 'NAME', 'CREATED', 'LAST USED']);

    const removed = await pigeon(dir, ['user', 'app-password', 'remove', 'alice@example.com', '1']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout, 'app password 1 of alice@example.com revoked\n');
    assert.deepEqual(await login(dir, password), { ok: false });
    assert.deepEqual(await login(dir, laptop.password), { ok: true, credential: { kind: 'app', id: 2, name: 'Laptop' } });
  });

  test('mistakes are one line on stderr with the usual exit codes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
    writeFileSync(join(dir, 'pigeon.toml'), 'hostname = "mail.example.test"\ndata_dir = "./data"\n');
    const store = await openStore({ driver: 'sqlite', url: '', dataDir: join(dir, 'data') });
    await store.addDomain('example.com');
    await store.createAccount({ email: 'alice@example.com', passwordHash: 'x' });
    await store.close();

    const cases: Array<[string[], number, string]> = [
      [['user', 'app-password', 'add', 'alice@example.com'], 64, 'pigeon: usage: pigeon user app-password add EMAIL --name LABEL (a name to tell it apart, e.g. "Phone")\n'],
      [['user', 'app-password', 'add', 'alice@example.com', '--name', '  '], 1, 'pigeon: an app password name is 1 to 100 printable characters\n'],
      [['user', 'app-password', 'add', 'nobody@example.com', '--name', 'Phone'], 1, 'pigeon: no such user: nobody@example.com\n'],
      [['user', 'app-password', 'remove', 'alice@example.com', '7'], 1, 'pigeon: alice@example.com has no app password 7\n'],
      [['user', 'app-password', 'remove', 'alice@example.com', 'seven'], 64, 'pigeon: app password ID must be a number (see: pigeon user app-password list alice@example.com)\n'],
      [['user', 'app-password', 'remove', 'alice@example.com'], 64, 'pigeon: usage: pigeon user app-password remove EMAIL ID\n'],
      [['user', 'app-password', 'rotate', 'alice@example.com'], 64, 'pigeon: usage: pigeon user app-password add EMAIL --name LABEL | list EMAIL | remove EMAIL ID\n'],
    ];
    for (const [args, code, stderr] of cases) {
      const r = await pigeon(dir, args);
      assert.deepEqual([r.code, r.stderr, r.stdout], [code, stderr, ''], args.join(' '));
    }
    const list = await pigeon(dir, ['user', 'app-password', 'list', 'alice@example.com', '--json']);
    assert.equal(list.stdout, '[]\n');
  });
});
