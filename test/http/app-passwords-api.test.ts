// The admin API's app passwords (through app.inject()): list, create (the password in the answer
// only), revoke; scopes and CSRF as for every change; the console sign-in refuses app passwords.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { buildHttpsApp } from '../../src/http/app.js';
import { silentLogger } from '../../src/shared/logger.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { errorCatalogue } from '../../src/http/errors.js';

interface Session {
  cookie: string;
  csrf: string;
}

function errorCode(r: LightMyRequestResponse): string {
  const body = r.json() as { error?: { code?: string } };
  const code = body.error?.code;
  assert.ok(typeof code === 'string' && code in errorCatalogue, `not a catalogue error: ${r.body}`);
  assert.equal(r.statusCode, errorCatalogue[code as keyof typeof errorCatalogue].status);
  return code;
}

describe('admin API: app passwords', () => {
  let store: Store;
  let app: FastifyInstance;
  let authenticator: Authenticator;
  let root: Session;
  let boss: Session;

  const signIn = async (email: string, password: string): Promise<Session> => {
    const r = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password } });
    assert.equal(r.statusCode, 201, r.body);
    return { cookie: String(r.headers['set-cookie']).split(';')[0]!, csrf: (r.json() as { csrfToken: string }).csrfToken };
  };
  const call = (s: Session, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object) =>
    app.inject({
      method, url, headers: { cookie: s.cookie, ...(method === 'GET' ? {} : { 'x-csrf-token': s.csrf, origin: 'https://mail.example.com', host: 'mail.example.com' }) },
      ...(payload !== undefined ? { payload } : {}),
    });
  const login = async (email: string, password: string, remoteAddress = '192.0.2.50') =>
    (await authenticator.authenticate({ username: email, password, remoteAddress, protocol: 'imap' })).ok;

  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
    const config = buildConfig({ hostname: 'mail.example.com', data_dir: dir, auth: { failure_delay_ms: 0, max_failure_delay_ms: 0, lockout_failures: 50 } }, { env: {} });
    store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
    authenticator = new Authenticator(store, { auth: config.auth });
    await store.addDomain('example.com');
    await store.addDomain('other.org');
    await store.createAccount({ email: 'root@example.com', passwordHash: await hashPassword('root-pw'), isAdmin: true, adminScope: 'server' });
    await store.createAccount({ email: 'boss@other.org', passwordHash: await hashPassword('boss-pw'), isAdmin: true, adminScope: 'domain' });
    await store.createAccount({ email: 'bob@other.org', passwordHash: await hashPassword('bob-pw') });
    app = await buildHttpsApp({ config, store, logger: silentLogger(), authenticator });
    root = await signIn('root@example.com', 'root-pw');
    boss = await signIn('boss@other.org', 'boss-pw');
  });
  after(async () => {
    await app.close();
    await store.close();
  });

  test('create answers the password once; list never shows it; it logs in until revoked', async () => {
    const made = await call(boss, 'POST', '/api/v1/accounts/bob@other.org/app-passwords', { name: 'Bob phone' });
    assert.equal(made.statusCode, 201, made.body);
    assert.equal(made.headers['cache-control'], 'no-store');
    const body = made.json() as { id: number; name: string; password: string; createdAt: string; lastUsedAt: string | null };
    assert.equal(body.name, 'Bob phone');
    assert.equal(body.lastUsedAt, null);
    assert.match(body.password, /^[a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}$/);
    assert.ok(await login('bob@other.org', body.password));

    const listed = await call(boss, 'GET', '/api/v1/accounts/bob@other.org/app-passwords');
    assert.equal(listed.statusCode, 200);
    const rows = listed.json() as Array<Record<string, unknown>>;
    assert.deepEqual(rows.map((r) => Object.keys(r).sort()), [['createdAt', 'id', 'lastUsedAt', 'name']]);
    assert.equal(rows[0]!['id'], body.id);
    assert.equal(typeof rows[0]!['lastUsedAt'], 'string', 'the login was recorded');
    assert.ok(!listed.body.includes(body.password.replace(/ /g, '')) && !listed.body.includes('$scrypt$'));

    const noCsrf = await app.inject({ method: 'DELETE', url: `/api/v1/accounts/bob@other.org/app-passwords/${body.id}`, headers: { cookie: boss.cookie } });
    assert.equal(errorCode(noCsrf), 'csrf_failed');
    assert.ok(await login('bob@other.org', body.password));

    const gone = await call(boss, 'DELETE', `/api/v1/accounts/bob@other.org/app-passwords/${body.id}`);
    assert.equal(gone.statusCode, 204, gone.body);
    assert.equal(await login('bob@other.org', body.password), false);
    assert.equal(errorCode(await call(boss, 'DELETE', `/api/v1/accounts/bob@other.org/app-passwords/${body.id}`)), 'app_password_not_found');
    assert.deepEqual((await call(boss, 'GET', '/api/v1/accounts/bob@other.org/app-passwords')).json(), []);
  });

  test("a domain admin cannot see or touch another domain's app passwords; bad input is invalid_input", async () => {
    const made = await call(root, 'POST', '/api/v1/accounts/root@example.com/app-passwords', { name: 'Root laptop' });
    assert.equal(made.statusCode, 201, made.body);
    const id = (made.json() as { id: number }).id;
    assert.equal(errorCode(await call(boss, 'GET', '/api/v1/accounts/root@example.com/app-passwords')), 'outside_scope');
    assert.equal(errorCode(await call(boss, 'POST', '/api/v1/accounts/root@example.com/app-passwords', { name: 'x' })), 'outside_scope');
    assert.equal(errorCode(await call(boss, 'DELETE', `/api/v1/accounts/root@example.com/app-passwords/${id}`)), 'outside_scope');
    // Another account's id is not found under this account.
    assert.equal(errorCode(await call(root, 'DELETE', `/api/v1/accounts/bob@other.org/app-passwords/${id}`)), 'app_password_not_found');
    assert.equal(errorCode(await call(root, 'POST', '/api/v1/accounts/root@example.com/app-passwords', { name: '' })), 'invalid_input');
    assert.equal(errorCode(await call(root, 'POST', '/api/v1/accounts/root@example.com/app-passwords', {})), 'invalid_input');
    assert.equal(errorCode(await call(root, 'POST', '/api/v1/accounts/nobody@example.com/app-passwords', { name: 'x' })), 'account_not_found');
    assert.equal(errorCode(await call(root, 'DELETE', '/api/v1/accounts/root@example.com/app-passwords/abc')), 'invalid_input');
    assert.equal((await call(root, 'DELETE', `/api/v1/accounts/root@example.com/app-passwords/${id}`)).statusCode, 204);
  });

  test('the console sign-in takes the account password, never an app password', async () => {
    const made = await call(root, 'POST', '/api/v1/accounts/root@example.com/app-passwords', { name: 'Root phone' });
    const password = (made.json() as { password: string }).password;
    assert.ok(await login('root@example.com', password), 'it does log in to mail');
    const r = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'root@example.com', password } });
    assert.equal(errorCode(r), 'sign_in_failed');
  });
});
