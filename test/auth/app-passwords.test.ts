// App passwords: their shape, and logins with them through the Authenticator against a real
// SQLite store (the credential named in the answer, revocation, the admin console refusing them,
// the failed-login throttle, last use written at most once a minute).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { Account, Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { Authenticator, type AuthRequest } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/passwords.js';
import {
  MAX_APP_PASSWORDS_PER_ACCOUNT, appPasswordLookup, createAppPassword, generateAppPassword, normalizeAppPassword,
} from '../../src/auth/app-passwords.js';
import { Refused } from '../../src/shared/errors.js';

const auth = { allow_plaintext: false, failure_delay_ms: 0, max_failure_delay_ms: 0, lockout_failures: 3, lockout_seconds: 60 };

describe('app password shape', () => {
  test('a generated app password is four groups of four lower-case letters, different each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const p = generateAppPassword();
      assert.match(p, /^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
      seen.add(p);
    }
    assert.equal(seen.size, 50);
  });

  test('a login may type it with or without spaces and in any case; other passwords are not app passwords', () => {
    assert.equal(normalizeAppPassword('abcd efgh ijkl mnop'), 'abcdefghijklmnop');
    assert.equal(normalizeAppPassword('ABCDefghijklmnop'), 'abcdefghijklmnop');
    assert.equal(normalizeAppPassword(' abcd  efgh ijkl mnop '), 'abcdefghijklmnop');
    assert.equal(normalizeAppPassword('abcd efgh ijkl mno'), null);
    assert.equal(normalizeAppPassword('abcd-efgh-ijkl-mnop'), null);
    assert.equal(normalizeAppPassword('abcd efgh ijkl mnoq1'), null);
    assert.equal(normalizeAppPassword('hunter2'), null);
  });

  test('the lookup key depends on the account and the password', () => {
    const k = appPasswordLookup(1, 'abcdefghijklmnop');
    assert.match(k, /^[0-9a-f]{8}$/);
    assert.equal(appPasswordLookup(1, 'abcdefghijklmnop'), k);
    assert.notEqual(appPasswordLookup(2, 'abcdefghijklmnop'), k);
    assert.notEqual(appPasswordLookup(1, 'abcdefghijklmnoq'), k);
  });
});

describe('Authenticator with app passwords', () => {
  let dir: string;
  let store: Store;
  let alice: Account;
  let bob: Account;
  const clock = new ManualClock();
  const request = (password: string, extra: Partial<AuthRequest> = {}): AuthRequest => ({ username: 'alice@example.com', password, remoteAddress: '192.0.2.10', protocol: 'imap', ...extra });

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
    store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
    await store.addDomain('example.com');
    alice = await store.createAccount({ email: 'alice@example.com', passwordHash: await hashPassword('alice-secret') });
    bob = await store.createAccount({ email: 'bob@example.com', passwordHash: await hashPassword('bob-secret') });
  });
  after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the account password and an app password both log in, and the answer names which', async () => {
    const authn = new Authenticator(store, { auth, clock });
    const { appPassword, password } = await createAppPassword(store, alice.id, 'Phone');
    const byPassword = await authn.authenticate(request('alice-secret'));
    assert.ok(byPassword.ok);
    assert.deepEqual(byPassword.credential, { kind: 'password' });
    for (const typed of [password, password.replace(/ /g, ''), password.toUpperCase()]) {
      const r = await authn.authenticate(request(typed));
      assert.ok(r.ok, typed);
      assert.equal(r.account.id, alice.id);
      assert.deepEqual(r.credential, { kind: 'app', id: appPassword.id, name: 'Phone' });
    }
    // Only the hash is stored.
    const creds = await store.appPasswordCredentials(alice.id);
    assert.ok(creds.every((c) => c.passwordHash.startsWith('$scrypt$') && !c.passwordHash.includes(password.replace(/ /g, ''))));
    await store.removeAppPassword(alice.id, appPassword.id);
  });

  test("an app password is the account's only: another account's app password does not log in", async () => {
    const authn = new Authenticator(store, { auth, clock });
    const { appPassword, password } = await createAppPassword(store, bob.id, 'Bob phone');
    const r = await authn.authenticate(request(password, { remoteAddress: '192.0.2.11' }));
    assert.deepEqual(r, { ok: false, reason: 'invalid' });
    assert.ok((await authn.authenticate(request(password, { username: 'bob@example.com', remoteAddress: '192.0.2.11' }))).ok);
    await store.removeAppPassword(bob.id, appPassword.id);
  });

  test('a revoked app password fails at once, and the account password still works', async () => {
    const authn = new Authenticator(store, { auth, clock });
    const { appPassword, password } = await createAppPassword(store, alice.id, 'Tablet');
    assert.ok((await authn.authenticate(request(password, { remoteAddress: '192.0.2.12' }))).ok);
    assert.equal(await store.removeAppPassword(alice.id, appPassword.id), true);
    assert.deepEqual(await authn.authenticate(request(password, { remoteAddress: '192.0.2.12' })), { ok: false, reason: 'invalid' });
    assert.ok((await authn.authenticate(request('alice-secret', { remoteAddress: '192.0.2.12' }))).ok);
  });

  test('the admin console sign-in (appPasswords: false) refuses an app password and counts the failure', async () => {
    const authn = new Authenticator(store, { auth, clock });
    const { appPassword, password } = await createAppPassword(store, alice.id, 'Mail app');
    const r = await authn.authenticate(request(password, { protocol: 'http', appPasswords: false, remoteAddress: '192.0.2.13' }));
    assert.deepEqual(r, { ok: false, reason: 'invalid' });
    assert.ok((await authn.authenticate(request('alice-secret', { protocol: 'http', appPasswords: false, remoteAddress: '192.0.2.13' }))).ok);
    await store.removeAppPassword(alice.id, appPassword.id);
  });

  test('wrong app-password-shaped guesses go through the same throttle and lock the address out', async () => {
    const authn = new Authenticator(store, { auth, clock });
    const { appPassword, password } = await createAppPassword(store, alice.id, 'Laptop');
    const from = { remoteAddress: '198.51.100.7' };
    for (let i = 0; i < auth.lockout_failures; i++) {
      assert.deepEqual(await authn.authenticate(request(generateAppPassword(), from)), { ok: false, reason: 'invalid' });
    }
    const locked = await authn.authenticate(request(password, from));
    assert.equal(locked.ok, false);
    assert.equal(!locked.ok && locked.reason, 'locked');
    clock.advance(auth.lockout_seconds * 1000);
    await store.removeAppPassword(alice.id, appPassword.id);
  });

  test('last use is recorded on login, then at most once a minute', async () => {
    const authn = new Authenticator(store, { auth, clock });
    const { appPassword, password } = await createAppPassword(store, alice.id, 'Watch');
    const lastUsed = async () => (await store.listAppPasswords(alice.id)).find((a) => a.id === appPassword.id)?.lastUsedAt;
    assert.equal(await lastUsed(), null);
    const first = clock.now();
    assert.ok((await authn.authenticate(request(password, { remoteAddress: '192.0.2.14' }))).ok);
    assert.equal(await lastUsed(), first);
    clock.advance(30_000);
    assert.ok((await authn.authenticate(request(password, { remoteAddress: '192.0.2.14' }))).ok);
    assert.equal(await lastUsed(), first, 'not written again within the minute');
    clock.advance(30_000);
    assert.ok((await authn.authenticate(request(password, { remoteAddress: '192.0.2.14' }))).ok);
    assert.equal(await lastUsed(), first + 60_000);
    await store.removeAppPassword(alice.id, appPassword.id);
  });

  test(`an account holds at most ${MAX_APP_PASSWORDS_PER_ACCOUNT} app passwords`, async () => {
    const first = await createAppPassword(store, bob.id, 'First');
    // The ones between are stored directly (their hashes are never verified here).
    for (let i = 2; i < MAX_APP_PASSWORDS_PER_ACCOUNT; i++) {
      await store.createAppPassword({ accountId: bob.id, name: `Device ${i}`, lookup: i.toString(16), passwordHash: '$scrypt$never' }, { maxPerAccount: MAX_APP_PASSWORDS_PER_ACCOUNT });
    }
    const last = await createAppPassword(store, bob.id, 'Last');
    await assert.rejects(createAppPassword(store, bob.id, 'One too many'), (err: unknown) => err instanceof Refused && err.code === 'LIMIT');
    // Either end logs in: the lookup finds it without trying the others.
    const authn = new Authenticator(store, { auth, clock });
    for (const m of [first, last]) {
      const r = await authn.authenticate(request(m.password, { username: 'bob@example.com', remoteAddress: '192.0.2.15' }));
      assert.ok(r.ok);
      assert.deepEqual(r.credential, { kind: 'app', id: m.appPassword.id, name: m.appPassword.name });
    }
    for (const m of await store.listAppPasswords(bob.id)) await store.removeAppPassword(bob.id, m.id);
  });
});
