// The `pigeon` command driven as a subprocess, as an administrator uses it.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const bin = resolve('bin/pigeon.js');

function pigeon(dir: string, args: string[], input?: string) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: dir, input, encoding: 'utf8',
    env: { ...process.env, PIGEON_CONFIG: join(dir, 'pigeon.toml'), PIGEON_LOG_LEVEL: 'silent' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('pigeon CLI', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'pigeon-cli-'));
    writeFileSync(join(dir, 'pigeon.toml'), 'data_dir = "./data"\n');
  });

  test('domains are added, listed as JSON and refused twice', () => {
    assert.equal(pigeon(dir, ['domain', 'add', 'Example.COM']).code, 0);
    assert.equal(pigeon(dir, ['domain', 'add', 'example.org']).code, 0);
    const again = pigeon(dir, ['domain', 'add', 'example.com']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'pigeon: domain example.com already exists\n');
    const list = JSON.parse(pigeon(dir, ['domain', 'list', '--json']).stdout) as Array<{ name: string }>;
    assert.deepEqual(list.map((d) => d.name).sort(), ['example.com', 'example.org']);
  });

  test('users take the password from --password or standard input, with quota and admin', () => {
    assert.equal(pigeon(dir, ['user', 'add', 'alice@example.com', '--password', 'secret one', '--quota', '2G', '--admin']).code, 0);
    assert.equal(pigeon(dir, ['user', 'add', 'bob@example.com'], 'from stdin\n').code, 0);
    const users = JSON.parse(pigeon(dir, ['user', 'list', '--json']).stdout) as Array<{ email: string; quota: number; isAdmin: boolean }>;
    const alice = users.find((u) => u.email === 'alice@example.com');
    assert.deepEqual({ quota: alice?.quota, isAdmin: alice?.isAdmin }, { quota: 2 * 1024 ** 3, isAdmin: true });
    assert.ok(users.some((u) => u.email === 'bob@example.com' && !u.isAdmin));
    // The password is stored hashed, never in the clear.
    const db = readFileSync(join(dir, 'data', 'pigeon.db'));
    assert.equal(db.includes('secret one'), false);
    assert.equal(db.includes('from stdin'), false);
  });

  test('a user in an unknown domain is one clear line and a non-zero exit', () => {
    const r = pigeon(dir, ['user', 'add', 'carol@nowhere.example', '--password', 'x']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^pigeon: domain nowhere\.example does not exist/);
  });

  test('passwd changes the password and remove deletes the user', () => {
    assert.equal(pigeon(dir, ['user', 'add', 'dave@example.com', '--password', 'one']).code, 0);
    assert.equal(pigeon(dir, ['user', 'passwd', 'dave@example.com'], 'two\n').code, 0);
    assert.equal(pigeon(dir, ['user', 'remove', 'dave@example.com']).code, 0);
    const r = pigeon(dir, ['user', 'remove', 'dave@example.com']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'pigeon: no such user: dave@example.com\n');
  });

  test('aliases point to one or more addresses and a catch-all per domain', () => {
    assert.equal(pigeon(dir, ['alias', 'add', 'sales@example.com', 'alice@example.com', 'bob@example.com']).code, 0);
    assert.equal(pigeon(dir, ['alias', 'add', '@example.org', 'alice@example.com']).code, 0);
    const list = JSON.parse(pigeon(dir, ['alias', 'list', '--json']).stdout) as Array<{ address: string; targets: string[] }>;
    assert.deepEqual(list.map((a) => [a.address, [...a.targets].sort()]).sort(), [['@example.org', ['alice@example.com']], ['sales@example.com', ['alice@example.com', 'bob@example.com']]]);
    assert.equal(pigeon(dir, ['alias', 'remove', 'sales@example.com']).code, 0);
    assert.equal(pigeon(dir, ['alias', 'add', 'alice@example.com', 'bob@example.com']).code, 1);
  });

  test('My Networks takes IPv4 and IPv6 CIDRs, normalised', () => {
    assert.equal(pigeon(dir, ['network', 'add', '192.0.2.9/24', '--note', 'office']).code, 0);
    assert.equal(pigeon(dir, ['network', 'add', '2001:db8::/48']).code, 0);
    const bad = pigeon(dir, ['network', 'add', '300.1.1.1/8']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^pigeon: not an IPv4 or IPv6 network/);
    const list = JSON.parse(pigeon(dir, ['network', 'list', '--json']).stdout) as Array<{ cidr: string; note: string }>;
    assert.deepEqual(list.map((n) => n.cidr).sort(), ['192.0.2.0/24', '2001:db8::/48']);
    assert.equal(pigeon(dir, ['network', 'remove', '192.0.2.0/24']).code, 0);
    assert.equal(JSON.parse(pigeon(dir, ['network', 'list', '--json']).stdout).length, 1);
  });

  test('deliver exits 0 for a user, 67 for an unknown user, and files into --mailbox', () => {
    const msg = 'From: x@example.net\r\nTo: alice@example.com\r\nSubject: hi\r\n\r\nhello\r\n';
    assert.equal(pigeon(dir, ['deliver', 'alice@example.com'], msg).code, 0);
    assert.equal(pigeon(dir, ['deliver', 'alice@example.com', '--mailbox', 'Archive'], msg).code, 0);
    assert.equal(pigeon(dir, ['deliver', 'nobody@example.com'], msg).code, 67);
    assert.equal(pigeon(dir, ['check']).stdout, 'store is sound\n');
  });

  test('a full quota makes deliver exit 75 (try later)', () => {
    assert.equal(pigeon(dir, ['user', 'add', 'tiny@example.com', '--password', 'x', '--quota', '10']).code, 0);
    assert.equal(pigeon(dir, ['deliver', 'tiny@example.com'], 'Subject: big\r\n\r\n' + 'x'.repeat(100) + '\r\n').code, 75);
  });

  test('init writes a commented config that loads, and refuses to overwrite', () => {
    const d = mkdtempSync(join(tmpdir(), 'pigeon-init-'));
    const r = pigeon(d, ['init', '--hostname', 'mail.example.com']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(join(d, 'pigeon.toml')));
    assert.match(readFileSync(join(d, 'pigeon.toml'), 'utf8'), /^hostname = "mail\.example\.com"$/m);
    assert.equal(pigeon(d, ['init']).code, 64);
  });

  test('a bad config file is refused listing every problem', () => {
    const d = mkdtempSync(join(tmpdir(), 'pigeon-bad-'));
    writeFileSync(join(d, 'pigeon.toml'), '[listen]\nimap = "x"\n[store]\ndriver = "oracle"\n');
    const r = pigeon(d, ['domain', 'list']);
    assert.equal(r.code, 78);
    assert.match(r.stderr, /listen\.imap: must be "addr:port"/);
    assert.match(r.stderr, /store\.driver: must be one of/);
  });

  test('an unknown command is a usage error', () => {
    const r = pigeon(dir, ['frobnicate']);
    assert.equal(r.code, 64);
    assert.match(r.stderr, /unknown command "frobnicate"/);
  });
});
