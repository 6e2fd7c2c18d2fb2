import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { buildHttpsApp } from '../../src/http/app.js';
import { silentLogger } from '../../src/shared/logger.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { ManualClock } from '../../src/shared/clock.js';
import { createServerMetrics, type ServerMetrics } from '../../src/shared/metrics.js';
import { errorCatalogue } from '../../src/http/errors.js';
import { instrument } from '../../src/http/instrumentation.js';
import { RecentFailures } from '../../src/http/recent-failures.js';
import type { TlsProvider } from '../../src/tls/provider.js';
import { queueOps } from '../../src/queue/operations.js';
import { generateDkimKey } from '../../src/queue/dkim.js';

interface Ctx {
  dir: string;
  config: Config;
  store: Store;
  clock: ManualClock;
  authenticator: Authenticator;
  metrics: ServerMetrics;
  app: FastifyInstance;
}

const fakeTls = { info: () => ({ subject: 'CN=mail.example.com', altNames: ['mail.example.com'], notAfter: Date.UTC(2027, 0, 1), selfSigned: true, file: null }) } as unknown as TlsProvider;

async function setup(): Promise<Ctx> {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
  const config = buildConfig({ hostname: 'mail.example.com', data_dir: dir, auth: { failure_delay_ms: 0, max_failure_delay_ms: 0, lockout_failures: 5 }, queue: { smarthost: 'relay.example.net:587' } }, { env: {} });
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
  const clock = new ManualClock(Date.UTC(2026, 10, 1));
  const metrics = createServerMetrics();
  const observed = instrument({ metrics, recentFailures: new RecentFailures(), store, tls: fakeTls, clock });
  const authenticator = new Authenticator(store, { auth: config.auth, clock, metrics: observed.logins });
  await store.addDomain('example.com');
  await store.addDomain('other.org');
  await store.createAccount({ email: 'root@example.com', passwordHash: await hashPassword('root-pw'), isAdmin: true, adminScope: 'server' });
  await store.createAccount({ email: 'boss@other.org', passwordHash: await hashPassword('boss-pw'), isAdmin: true, adminScope: 'domain' });
  await store.createAccount({ email: 'bob@other.org', passwordHash: await hashPassword('bob-pw') });
  const app = await buildHttpsApp({ config, store, logger: silentLogger(), authenticator, clock, metrics, tls: fakeTls });
  return { dir, config, store, clock, authenticator, metrics, app };
}

interface Session {
  cookie: string;
  csrf: string;
}

async function signIn(app: FastifyInstance, email: string, password: string): Promise<Session> {
  const r = await app.inject({ method: 'POST', url: '/api/v1/session', payload: { email, password } });
  assert.equal(r.statusCode, 201, r.body);
  const setCookie = String(r.headers['set-cookie']);
  return { cookie: setCookie.split(';')[0]!, csrf: (r.json() as { csrfToken: string }).csrfToken };
}

function call(app: FastifyInstance, s: Session, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: object): Promise<LightMyRequestResponse> {
  return app.inject({
    method, url, headers: { cookie: s.cookie, ...(method === 'GET' ? {} : { 'x-csrf-token': s.csrf, origin: 'https://mail.example.com', host: 'mail.example.com' }) },
    ...(payload !== undefined ? { payload } : {}),
  });
}

function errorCode(r: LightMyRequestResponse): string {
  const body = r.json() as { error?: { code?: string; message?: string } };
  assert.ok(body.error && typeof body.error.code === 'string' && typeof body.error.message === 'string', `not a catalogue error: ${r.body}`);
  assert.ok(body.error.code in errorCatalogue, `code ${body.error.code} is not in the catalogue`);
  assert.equal(r.statusCode, errorCatalogue[body.error.code as keyof typeof errorCatalogue].status, `status of ${body.error.code}`);
  return body.error.code;
}

/** Every METHOD path of Fastify's route tree (printRoutes), e.g. "delete /api/v1/domains/:domain". */
function registeredRoutes(app: FastifyInstance, prefix: string): Set<string> {
  const out = new Set<string>();
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)[└├]── (.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    stack.push(m[2]!);
    const path = stack.join('');
    for (const method of (m[3] ?? '').split(', ').filter((x) => x !== '' && x !== 'HEAD')) if (path.startsWith(prefix)) out.add(`${method.toLowerCase()} ${path}`);
  }
  return out;
}

describe('admin API', () => {
  let c: Ctx;
  before(async () => {
    c = await setup();
  });
  after(async () => {
    await c.app.close();
    await c.store.close();
  });

  test('sign-in sets a Secure HttpOnly SameSite=Strict cookie and stores only the token hash', async () => {
    const r = await c.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'root@example.com', password: 'root-pw' } });
    assert.equal(r.statusCode, 201);
    const cookie = String(r.headers['set-cookie']);
    const attrs = cookie.split(';').map((x) => x.trim());
    assert.match(attrs[0]!, /^__Host-pigeon_session=[A-Za-z0-9_-]{43}$/);
    for (const a of ['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']) assert.ok(attrs.includes(a), `cookie lacks ${a}: ${cookie}`);
    const token = attrs[0]!.split('=')[1]!;
    const body = r.json() as { email: string; scope: string; csrfToken: string };
    assert.deepEqual([body.email, body.scope], ['root@example.com', 'server']);
    assert.notEqual(body.csrfToken, token);
    const hash = createHash('sha256').update(token).digest('hex');
    assert.ok(await c.store.adminSessions.get(hash, c.clock.now()), 'the SHA-256 of the token is stored');
    assert.equal(await c.store.adminSessions.get(createHash('sha256').update(hash).digest('hex'), c.clock.now()), undefined);
  });

  test('a wrong password is sign_in_failed and a non-admin is not_admin', async () => {
    const wrong = await c.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'root@example.com', password: 'nope' } });
    assert.equal(errorCode(wrong), 'sign_in_failed');
    const user = await c.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'bob@other.org', password: 'bob-pw' } });
    assert.equal(errorCode(user), 'not_admin');
    const missing = await c.app.inject({ method: 'POST', url: '/api/v1/session', payload: { email: 'root@example.com' } });
    assert.equal(errorCode(missing), 'invalid_input');
  });

  test('failed mail logins and console sign-ins share one throttle', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await c.authenticator.authenticate({ username: 'victim@example.com', password: 'x', remoteAddress: '198.51.100.9', protocol: 'imap' });
      assert.equal(r.ok, false);
    }
    const fifth = await c.app.inject({ method: 'POST', url: '/api/v1/session', remoteAddress: '198.51.100.9', payload: { email: 'victim@example.com', password: 'x' } });
    assert.equal(errorCode(fifth), 'sign_in_failed');
    const locked = await c.app.inject({ method: 'POST', url: '/api/v1/session', remoteAddress: '198.51.100.9', payload: { email: 'root@example.com', password: 'root-pw' } });
    assert.equal(errorCode(locked), 'locked_out');
    assert.ok(Number(locked.headers['retry-after']) > 0);
  });

  test('API calls without a session are not_signed_in', async () => {
    const r = await c.app.inject({ method: 'GET', url: '/api/v1/domains' });
    assert.equal(errorCode(r), 'not_signed_in');
    const bad = await c.app.inject({ method: 'GET', url: '/api/v1/domains', headers: { cookie: '__Host-pigeon_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    assert.equal(errorCode(bad), 'not_signed_in');
  });

  test('a change needs the X-CSRF-Token and a same-origin Origin', async () => {
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    const none = await c.app.inject({ method: 'POST', url: '/api/v1/domains', headers: { cookie: s.cookie }, payload: { name: 'csrf.test' } });
    assert.equal(errorCode(none), 'csrf_failed');
    const wrong = await c.app.inject({ method: 'POST', url: '/api/v1/domains', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf.replace(/^./, (x) => (x === 'A' ? 'B' : 'A')) }, payload: { name: 'csrf.test' } });
    assert.equal(errorCode(wrong), 'csrf_failed');
    const foreign = await c.app.inject({ method: 'POST', url: '/api/v1/domains', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: 'https://evil.example', host: 'mail.example.com' }, payload: { name: 'csrf.test' } });
    assert.equal(errorCode(foreign), 'csrf_failed');
    const crossSite = await c.app.inject({ method: 'POST', url: '/api/v1/domains', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'sec-fetch-site': 'cross-site' }, payload: { name: 'csrf.test' } });
    assert.equal(errorCode(crossSite), 'csrf_failed');
    assert.equal(await c.store.getDomain('csrf.test'), undefined);
    const good = await call(c.app, s, 'POST', '/api/v1/domains', { name: 'csrf.test' });
    assert.equal(good.statusCode, 201, good.body);
    const again = await call(c.app, s, 'GET', '/api/v1/session');
    assert.equal((again.json() as { csrfToken: string }).csrfToken, s.csrf, 'GET /session gives the console its CSRF token back');
  });

  test('a session survives a restart of the HTTP app and ends after 8 idle hours', async () => {
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    const second = await buildHttpsApp({ config: c.config, store: c.store, logger: silentLogger(), authenticator: c.authenticator, clock: c.clock });
    try {
      assert.equal((await call(second, s, 'GET', '/api/v1/domains')).statusCode, 200);
      c.clock.advance(7 * 3600 * 1000);
      assert.equal((await call(second, s, 'GET', '/api/v1/domains')).statusCode, 200, 'use moves the idle expiry');
      c.clock.advance(7 * 3600 * 1000);
      assert.equal((await call(second, s, 'GET', '/api/v1/domains')).statusCode, 200);
      c.clock.advance(8 * 3600 * 1000 + 1000);
      assert.equal(errorCode(await call(second, s, 'GET', '/api/v1/domains')), 'not_signed_in');
    } finally {
      await second.close();
    }
  });

  test('sign-out ends the session', async () => {
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    const out = await call(c.app, s, 'DELETE', '/api/v1/session');
    assert.equal(out.statusCode, 204);
    assert.match(String(out.headers['set-cookie']), /Max-Age=0/);
    assert.equal(errorCode(await call(c.app, s, 'GET', '/api/v1/domains')), 'not_signed_in');
  });

  test('domains, accounts, aliases, networks and passwords work like the CLI, with catalogue errors', async () => {
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    const d = await call(c.app, s, 'POST', '/api/v1/domains', { name: 'New.Example' });
    assert.equal(d.statusCode, 201);
    assert.deepEqual((d.json() as { name: string; push: object }).push, { subscribeUrl: 'https://mail.example.com/push/v1/new.example/subscriptions', smtpServer: 'mail.example.com:465' });
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/domains', { name: 'new.example' })), 'domain_exists');
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/domains', { name: 'not a domain' })), 'invalid_input');

    const a = await call(c.app, s, 'POST', '/api/v1/accounts', { email: 'carol@new.example', password: 'carol-pw', quota: 1048576 });
    assert.equal(a.statusCode, 201, a.body);
    assert.deepEqual(a.json(), { ...(a.json() as object), email: 'carol@new.example', domain: 'new.example', quota: 1048576, usedBytes: 0, admin: 'none' });
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/accounts', { email: 'carol@new.example', password: 'x' })), 'account_exists');
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/accounts', { email: 'dave@nowhere.example', password: 'x' })), 'domain_not_found');
    assert.equal(errorCode(await call(c.app, s, 'GET', '/api/v1/accounts/nobody@new.example')), 'account_not_found');

    const q = await call(c.app, s, 'PATCH', '/api/v1/accounts/carol@new.example', { quota: 0, admin: 'domain' });
    assert.deepEqual([(q.json() as { quota: number }).quota, (q.json() as { admin: string }).admin], [0, 'domain']);
    assert.equal((await call(c.app, s, 'PUT', '/api/v1/accounts/carol@new.example/password', { password: 'fresh-pw' })).statusCode, 204);
    const login = await c.authenticator.authenticate({ username: 'carol@new.example', password: 'fresh-pw', remoteAddress: '192.0.2.1', protocol: 'imap' });
    assert.equal(login.ok, true, 'the new password works for mail');

    const al = await call(c.app, s, 'POST', '/api/v1/aliases', { address: 'info@new.example', targets: ['carol@new.example'] });
    assert.equal(al.statusCode, 201);
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/aliases', { address: 'carol@new.example', targets: ['root@example.com'] })), 'alias_exists');
    assert.deepEqual((await call(c.app, s, 'GET', '/api/v1/aliases?domain=new.example')).json(), [{ address: 'info@new.example', targets: ['carol@new.example'] }]);
    assert.equal((await call(c.app, s, 'DELETE', '/api/v1/aliases/info@new.example')).statusCode, 204);
    assert.equal(errorCode(await call(c.app, s, 'DELETE', '/api/v1/aliases/info@new.example')), 'alias_not_found');

    const n = await call(c.app, s, 'POST', '/api/v1/networks', { cidr: '192.0.2.77/24', note: 'office' });
    assert.deepEqual(n.json(), { cidr: '192.0.2.0/24', note: 'office' });
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/networks', { cidr: '192.0.2.0/24' })), 'network_exists');
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/networks', { cidr: '300.1.2.3/8' })), 'invalid_input');
    assert.deepEqual((await c.store.listNetworks()).map((x) => x.cidr), ['192.0.2.0/24']);
    assert.equal((await call(c.app, s, 'DELETE', `/api/v1/networks/${encodeURIComponent('192.0.2.0/24')}`)).statusCode, 204);
    assert.equal(errorCode(await call(c.app, s, 'DELETE', `/api/v1/networks/${encodeURIComponent('192.0.2.0/24')}`)), 'network_not_found');

    assert.equal(errorCode(await call(c.app, s, 'DELETE', '/api/v1/domains/new.example')), 'in_use');
    assert.equal((await call(c.app, s, 'DELETE', '/api/v1/domains/new.example?force=true')).statusCode, 204);
    assert.equal(await c.store.getAccountByEmail('carol@new.example'), undefined);
  });

  test('domain settings change through PATCH', async () => {
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    const r = await call(c.app, s, 'PATCH', '/api/v1/domains/example.com', { pushEnabled: true, pushAllowedHosts: ['Relay.Example.NET'] });
    assert.equal(r.statusCode, 200, r.body);
    assert.deepEqual((await c.store.getDomain('example.com'))!.settings, { pushEnabled: true, pushDetails: false, pushAllowedHosts: ['relay.example.net'], enforceSender: true });
  });

  test('a domain admin sees and changes only its own domain', async () => {
    const s = await signIn(c.app, 'boss@other.org', 'boss-pw');
    assert.deepEqual((await call(c.app, s, 'GET', '/api/v1/domains')).json().map((d: { name: string }) => d.name), ['other.org']);
    assert.deepEqual((await call(c.app, s, 'GET', '/api/v1/accounts')).json().map((a: { email: string }) => a.email), ['bob@other.org', 'boss@other.org']);
    assert.equal(errorCode(await call(c.app, s, 'GET', '/api/v1/accounts?domain=example.com')), 'outside_scope');
    assert.equal(errorCode(await call(c.app, s, 'GET', '/api/v1/accounts/root@example.com')), 'outside_scope');
    assert.equal(errorCode(await call(c.app, s, 'PUT', '/api/v1/accounts/root@example.com/password', { password: 'pwned' })), 'outside_scope');
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/domains', { name: 'mine.example' })), 'outside_scope');
    assert.equal(errorCode(await call(c.app, s, 'GET', '/api/v1/networks')), 'outside_scope');
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/networks', { cidr: '0.0.0.0/0' })), 'outside_scope');
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/accounts', { email: 'eve@other.org', password: 'x', admin: 'server' })), 'outside_scope');
    assert.equal(errorCode(await call(c.app, s, 'POST', '/api/v1/aliases', { address: 'x@example.com', targets: ['bob@other.org'] })), 'outside_scope');
    assert.equal(errorCode(await call(c.app, s, 'GET', '/api/v1/domains/example.com/dns')), 'outside_scope');
    assert.equal((await call(c.app, s, 'POST', '/api/v1/accounts', { email: 'eve@other.org', password: 'eve-pw', admin: 'domain' })).statusCode, 201);
    const system = (await call(c.app, s, 'GET', '/api/v1/system')).json() as { networks: unknown[]; relayHost: string | null; maxMessageSize: number };
    assert.deepEqual([system.networks, system.relayHost, system.maxMessageSize], [[], 'relay.example.net:587', 50 * 1024 * 1024]);
    const dash = (await call(c.app, s, 'GET', '/api/v1/dashboard')).json() as { counts: { domains: number; accounts: number } };
    assert.deepEqual([dash.counts.domains, dash.counts.accounts], [1, 3]);
  });

  test('removing admin rights ends the account\'s sessions', async () => {
    const root = await signIn(c.app, 'root@example.com', 'root-pw');
    await call(c.app, root, 'POST', '/api/v1/accounts', { email: 'temp@example.com', password: 'temp-pw', admin: 'server' });
    const temp = await signIn(c.app, 'temp@example.com', 'temp-pw');
    assert.equal((await call(c.app, temp, 'GET', '/api/v1/domains')).statusCode, 200);
    assert.equal((await call(c.app, root, 'PATCH', '/api/v1/accounts/temp@example.com', { admin: 'none' })).statusCode, 200);
    assert.equal(errorCode(await call(c.app, temp, 'GET', '/api/v1/domains')), 'not_signed_in');
  });

  test('the queue lists entries, removes them, and says retry is not available without a queue worker', async () => {
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    const q = await c.store.enqueueMessage({ sender: 'bob@other.org', recipients: [{ address: 'x@remote.example', notify: [], orcpt: null }], raw: Buffer.from('Subject: hi\r\n\r\nhi\r\n'), dsnRet: null, dsnEnvid: null, accountId: null });
    const list = (await call(c.app, s, 'GET', '/api/v1/queue')).json() as Array<{ id: number; sender: string; recipients: Array<{ address: string; state: string }> }>;
    assert.deepEqual(list.map((x) => [x.id, x.sender, x.recipients[0]!.address, x.recipients[0]!.state]), [[q.id, 'bob@other.org', 'x@remote.example', 'queued']]);
    const boss = await signIn(c.app, 'boss@other.org', 'boss-pw');
    assert.equal(((await call(c.app, boss, 'GET', '/api/v1/queue')).json() as unknown[]).length, 1, 'the sender is in the domain admin\'s domain');
    assert.equal(errorCode(await call(c.app, s, 'POST', `/api/v1/queue/${q.id}/retry`)), 'not_available');
    assert.equal(errorCode(await call(c.app, s, 'GET', '/api/v1/queue/999999')), 'queue_entry_not_found');
    assert.equal((await call(c.app, s, 'DELETE', `/api/v1/queue/${q.id}`)).statusCode, 204);
    assert.deepEqual(await c.store.listQueue(), []);
  });

  test('retry makes a deferred message due now through the queue operations', async () => {
    const ops = queueOps(c.store, { clock: c.clock });
    const app = await buildHttpsApp({ config: c.config, store: c.store, logger: silentLogger(), authenticator: c.authenticator, clock: c.clock, queue: { retry: async (id) => void (await ops.retry(id)), remove: (id) => ops.remove(id) } });
    try {
      const s = await signIn(app, 'root@example.com', 'root-pw');
      const q = await c.store.enqueueMessage({ sender: 'root@example.com', recipients: [{ address: 'y@remote.example', notify: [], orcpt: null }], raw: Buffer.from('Subject: later\r\n\r\nx\r\n'), dsnRet: null, dsnEnvid: null, accountId: null });
      await c.store.updateQueueRecipient(q.id, 'y@remote.example', { state: 'deferred', attempts: 1, nextAttemptAt: c.clock.now() + 3600_000, lastError: '451 try later' });
      const listed = (await call(app, s, 'GET', `/api/v1/queue/${q.id}`)).json() as { recipients: Array<{ state: string; lastError: string }> };
      assert.deepEqual([listed.recipients[0]!.state, listed.recipients[0]!.lastError], ['deferred', '451 try later']);
      assert.equal((await call(app, s, 'POST', `/api/v1/queue/${q.id}/retry`)).statusCode, 204);
      const after = (await c.store.getQueuedMessage(q.id))!;
      assert.ok(after.recipients[0]!.nextAttemptAt <= c.clock.now(), 'due now');
      assert.equal((await call(app, s, 'DELETE', `/api/v1/queue/${q.id}`)).statusCode, 204);
      assert.equal(await c.store.getQueuedMessage(q.id), undefined);
    } finally {
      await app.close();
    }
  });

  test('DNS records list MX, SPF, DMARC, the RFC 6186/8314 SRV records and autoconfig', async () => {
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    const { records } = (await call(c.app, s, 'GET', '/api/v1/domains/example.com/dns')).json() as { records: Array<{ name: string; type: string; value: string }> };
    const get = (name: string, type: string) => records.find((r) => r.name === name && r.type === type)?.value;
    assert.equal(get('example.com.', 'MX'), '10 mail.example.com.');
    assert.equal(get('example.com.', 'TXT'), '"v=spf1 mx -all"');
    assert.match(get('_dmarc.example.com.', 'TXT') ?? '', /^"v=DMARC1; p=/);
    assert.equal(get('_imaps._tcp.example.com.', 'SRV'), '0 1 993 mail.example.com.');
    assert.equal(get('_imap._tcp.example.com.', 'SRV'), '10 1 143 mail.example.com.');
    assert.equal(get('_submissions._tcp.example.com.', 'SRV'), '0 1 465 mail.example.com.');
    assert.equal(get('_submission._tcp.example.com.', 'SRV'), '10 1 587 mail.example.com.');
    assert.equal(get('_pop3s._tcp.example.com.', 'SRV'), '0 1 995 mail.example.com.');
    assert.equal(get('autoconfig.example.com.', 'CNAME'), 'mail.example.com.');
    assert.equal(records.some((r) => r.name.includes('._domainkey.')), false, 'no DKIM record without a key');
    await generateDkimKey(c.store, 'example.com');
    const withKey = (await call(c.app, s, 'GET', '/api/v1/domains/example.com/dns')).json() as { records: Array<{ name: string; type: string; value: string }> };
    assert.match(withKey.records.find((r) => r.name === 'pigeon._domainkey.example.com.')?.value ?? '', /^"v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}"$/);
  });

  test('the dashboard shows certificate expiry, counts and recent login failures', async () => {
    await c.authenticator.authenticate({ username: 'bob@other.org', password: 'wrong', remoteAddress: '192.0.2.200', protocol: 'pop3' });
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    const d = (await call(c.app, s, 'GET', '/api/v1/dashboard')).json() as { certificate: { notAfter: string; daysLeft: number }; counts: { domains: number } };
    assert.equal(d.certificate.notAfter, '2027-01-01T00:00:00.000Z');
    assert.equal(d.certificate.daysLeft, Math.floor((Date.UTC(2027, 0, 1) - c.clock.now()) / 86_400_000));
    assert.ok(d.counts.domains >= 2);
  });

  test('unknown API routes and bad JSON answer with catalogue errors', async () => {
    const s = await signIn(c.app, 'root@example.com', 'root-pw');
    assert.equal(errorCode(await call(c.app, s, 'GET', '/api/v1/no-such-thing')), 'not_found');
    const bad = await c.app.inject({ method: 'POST', url: '/api/v1/domains', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'content-type': 'application/json' }, payload: '{"name":' });
    assert.equal(errorCode(bad), 'invalid_json');
    const big = await c.app.inject({ method: 'POST', url: '/api/v1/domains', headers: { cookie: s.cookie, 'x-csrf-token': s.csrf, 'content-type': 'application/json' }, payload: JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024) }) });
    assert.equal(errorCode(big), 'body_too_large');
  });

  test('/api/docs is OpenAPI 3.1 with every API route and the whole error catalogue', async () => {
    const doc = (await c.app.inject({ method: 'GET', url: '/api/docs' })).json() as {
      openapi: string; paths: Record<string, Record<string, { responses: object }>>; components: { schemas: { Error: { properties: { error: { properties: { code: { enum: string[] } } } } } } };
    };
    assert.equal(doc.openapi, '3.1.0');
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(doc.paths)) for (const method of Object.keys(ops)) documented.add(`${method} ${path.replace(/\{([^}]+)\}/g, ':$1')}`);
    const registered = registeredRoutes(c.app, '/api/v1');
    assert.ok(registered.size >= 20, `found ${registered.size} routes`);
    assert.deepEqual([...registered].filter((r) => !documented.has(r)), [], 'routes missing from /api/docs');
    assert.deepEqual([...documented].filter((r) => !registered.has(r)), [], 'documented routes that do not exist');
    assert.deepEqual(doc.components.schemas.Error.properties.error.properties.code.enum.sort(), Object.keys(errorCatalogue).sort());
    assert.ok(doc.paths['/api/v1/domains']!['post']!.responses, 'operations have responses');
  });

  test('HTTPS responses carry the security headers', async () => {
    for (const url of ['/admin/', '/api/docs', '/api/v1/domains']) {
      const r = await c.app.inject({ method: 'GET', url });
      assert.match(String(r.headers['content-security-policy']), /default-src 'self'/);
      assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.doesNotMatch(String(r.headers['content-security-policy']), /unsafe-inline/);
      assert.match(String(r.headers['strict-transport-security']), /^max-age=\d+/);
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
    }
  });

  test('the console is served under /admin/ and nothing outside web/ is reachable', async () => {
    const page = await c.app.inject({ method: 'GET', url: '/admin/' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.doesNotMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    const js = await c.app.inject({ method: 'GET', url: '/admin/app.js' });
    assert.match(String(js.headers['content-type']), /^text\/javascript/);
    for (const url of ['/admin/../package.json', '/admin/%2e%2e/package.json', '/admin/..%2fpackage.json', '/admin/nope.html']) {
      assert.equal((await c.app.inject({ method: 'GET', url })).statusCode, 404, url);
    }
  });

  test('/metrics answers loopback and My Networks clients in the Prometheus format', async () => {
    const text = (await c.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '127.0.0.1' })).body;
    assert.match(text, /^# TYPE pigeon_logins_total counter$/m);
    assert.match(text, /^pigeon_logins_total\{protocol="http",outcome="ok"\} [1-9]\d*$/m);
    assert.match(text, /^pigeon_logins_total\{protocol="imap",outcome="failed"\} [1-9]\d*$/m);
    assert.match(text, /^pigeon_login_duration_seconds_bucket\{protocol="http",le="\+Inf"\} \d+$/m);
    assert.match(text, /^pigeon_certificate_expiry_seconds \d+$/m);
    assert.match(text, /^pigeon_http_requests_total\{area="api",status="2xx"\} \d+$/m);
    const outside = await c.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.5' });
    assert.equal(outside.statusCode, 403);
    await c.store.addNetwork('203.0.113.0/24');
    assert.equal((await c.app.inject({ method: 'GET', url: '/metrics', remoteAddress: '203.0.113.5' })).statusCode, 200);
    await c.store.removeNetwork('203.0.113.0/24');
  });
});
