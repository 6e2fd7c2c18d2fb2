// The admin JSON API under /api/v1: everything the `pigeon` command does (domains and their
// settings, users, passwords, quota, aliases, My Networks), plus the queue, push subscriptions
// ("Integrated Accounts") and the dashboard. Every change goes through admin/operations.ts, the
// same validated functions the CLI uses.
//
// Invariants:
// - Every route declares its JSON Schema (params, query, body, response): Fastify validates with
//   it and openapi.ts builds /api/docs from the same objects, so the document cannot drift.
// - Every route but POST /session needs a signed-in admin (session.ts); every non-GET also needs
//   the X-CSRF-Token header and a same-origin Origin/Sec-Fetch-Site when the browser sends them.
// - A domain admin (scope 'domain') sees and changes only its own domain; server-wide things
//   (adding/removing domains, My Networks, granting server scope) need scope 'server'.
// - Errors come from the one catalogue in errors.ts.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';
import type { Account, AppPassword, Domain, QueuedMessage, Store } from '../store/store.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { PushService } from '../push/service.js';
import type { PushSubscription } from '../store/push-store.js';
import type { TlsProvider } from '../tls/provider.js';
import type { ListeningOn } from '../shared/service.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import { adminOps } from '../admin/operations.js';
import { pushDomainInfo, integratedAccount } from '../push/admin.js';
import { ApiError, errorBody, errorSchema, toApiError, type Resource } from './errors.js';
import { AdminSessions, clearedSessionCookie, domainOf, mayAdminister, readCookie, sameToken, sessionCookie, sessionCookieName, type Principal } from './session.js';
import { dnsRecords } from './dns-records.js';
import { dkimRecord } from '../queue/dkim.js';
import type { RecentFailures } from './recent-failures.js';

/** What the queue owner (issue 8) offers the console; absent until it exists. */
export interface QueueAdmin {
  /** Try the message's undelivered recipients now. */
  retry(id: number): Promise<void>;
  /** Remove it without a bounce. */
  remove?(id: number): Promise<void>;
}

export interface AdminApiOptions {
  config: Config;
  store: Store;
  authenticator: Authenticator;
  logger: Logger;
  push?: PushService;
  tls?: TlsProvider;
  queue?: QueueAdmin;
  /** Where every service listens (dashboard); main.ts passes its running services. */
  listeners?: () => Array<ListeningOn & { service: string }>;
  recentFailures?: RecentFailures;
  clock?: Clock;
  idleMs?: number;
}

type AuthLevel = 'none' | 'admin' | 'server';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (admin API). */
    auth?: AuthLevel;
    /** What it works on, for naming not-found/exists errors. */
    resource?: Resource;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

// ---- schemas ----

const str = (extra: Record<string, unknown> = {}) => ({ type: 'string', ...extra });
const int = (extra: Record<string, unknown> = {}) => ({ type: 'integer', ...extra });
const bool = { type: 'boolean' };
const obj = (properties: Record<string, unknown>, required: string[] = []) => ({ type: 'object', additionalProperties: false, properties, required });
const list = (items: unknown) => ({ type: 'array', items });
const adminLevel = str({ enum: ['none', 'domain', 'server'], description: 'none; domain = administrator of the account\'s own domain; server = administrator of everything' });

const domainSettingsSchema = obj({
  pushEnabled: bool, pushDetails: bool, pushAllowedHosts: list(str({ maxLength: 255 })), enforceSender: bool,
}, ['pushEnabled', 'pushDetails', 'pushAllowedHosts', 'enforceSender']);
const domainSchema = obj({
  name: str(), createdAt: str({ format: 'date-time' }), settings: domainSettingsSchema, accounts: int(),
  push: obj({ subscribeUrl: str(), smtpServer: { type: ['string', 'null'] } }, ['subscribeUrl', 'smtpServer']),
}, ['name', 'createdAt', 'settings', 'accounts', 'push']);
const accountSchema = obj({
  email: str(), domain: str(), quota: int({ description: 'bytes; 0 = unlimited' }), usedBytes: int(), admin: adminLevel, createdAt: str({ format: 'date-time' }),
}, ['email', 'domain', 'quota', 'usedBytes', 'admin', 'createdAt']);
const appPasswordSchema = obj({
  id: int(), name: str(), createdAt: str({ format: 'date-time' }), lastUsedAt: { type: ['string', 'null'], description: 'last login with it (to the minute); null = never used' },
}, ['id', 'name', 'createdAt', 'lastUsedAt']);
const newAppPasswordSchema = obj({
  ...appPasswordSchema.properties,
  password: str({ description: 'the app password (four groups of four letters); shown in this answer only' }),
}, [...appPasswordSchema.required, 'password']);
const aliasSchema = obj({ address: str(), targets: list(str()) }, ['address', 'targets']);
const networkSchema = obj({ cidr: str(), note: str() }, ['cidr', 'note']);
const subscriptionSchema = obj({
  id: str(), account: str(), device: str(), deviceId: str(), relayHost: str(), webPush: bool, state: str({ enum: ['pending', 'active', 'suspended'] }),
  createdAt: str(), expiresAt: str(), lastNotification: { type: ['string', 'null'] }, lastError: { type: ['string', 'null'] },
}, ['id', 'account', 'device', 'deviceId', 'relayHost', 'webPush', 'state', 'createdAt', 'expiresAt', 'lastNotification', 'lastError']);
const queueEntrySchema = obj({
  id: int(), sender: str(), size: int(), createdAt: str(), account: { type: ['string', 'null'] },
  recipients: list(obj({
    address: str(), state: str({ enum: ['queued', 'delivered', 'deferred', 'failed'] }), attempts: int(), nextAttemptAt: str(), lastError: { type: ['string', 'null'] },
  }, ['address', 'state', 'attempts', 'nextAttemptAt', 'lastError'])),
}, ['id', 'sender', 'size', 'createdAt', 'account', 'recipients']);
const sessionSchema = obj({
  email: str(), scope: str({ enum: ['domain', 'server'] }), domain: str(), csrfToken: str({ description: 'send it in X-CSRF-Token on every non-GET call' }), expiresAt: str(),
}, ['email', 'scope', 'domain', 'csrfToken', 'expiresAt']);
const dnsSchema = obj({ records: list(obj({ name: str(), type: str(), value: str(), note: str() }, ['name', 'type', 'value', 'note'])) }, ['records']);
const listenerSchema = obj({ service: str(), listener: str(), host: str(), port: int(), security: str() }, ['service', 'listener', 'host', 'port', 'security']);
const dashboardSchema = obj({
  hostname: str(),
  listeners: list(listenerSchema),
  certificate: { type: ['object', 'null'], additionalProperties: false, properties: { subject: str(), altNames: list(str()), notAfter: str(), daysLeft: int(), selfSigned: bool }, required: ['subject', 'altNames', 'notAfter', 'daysLeft', 'selfSigned'] },
  counts: obj({ domains: int(), accounts: int(), messages: int(), pushSubscriptions: int() }, ['domains', 'accounts', 'messages', 'pushSubscriptions']),
  queue: obj({ messages: int(), deferred: int(), failed: int() }, ['messages', 'deferred', 'failed']),
  recentFailures: list(obj({ at: str(), kind: str(), domain: { type: ['string', 'null'] }, message: str() }, ['at', 'kind', 'domain', 'message'])),
}, ['hostname', 'listeners', 'certificate', 'counts', 'queue', 'recentFailures']);
const systemSchema = obj({
  hostname: str(), maxMessageSize: int(), relayHost: { type: ['string', 'null'], description: 'smarthost for outbound mail; null = direct delivery to MX' },
  pushEnabled: bool, networks: list(networkSchema),
}, ['hostname', 'maxMessageSize', 'relayHost', 'pushEnabled', 'networks']);

const errors = { '4xx': errorSchema, '5xx': errorSchema };
const ok = (schema: unknown) => ({ 200: schema, ...errors });
const created = (schema: unknown) => ({ 201: schema, ...errors });
const noContent = { 204: { type: 'null', description: 'done' }, ...errors };
const domainParam = obj({ domain: str({ maxLength: 255 }) }, ['domain']);
const emailParam = obj({ email: str({ maxLength: 320 }) }, ['email']);
const domainQuery = obj({ domain: str({ maxLength: 255 }) });

// ---- views ----

const iso = (t: number) => new Date(t).toISOString();
const adminOf = (a: Account): 'none' | 'domain' | 'server' => (a.isAdmin ? a.adminScope : 'none');
const accountView = (a: Account) => ({ email: a.email, domain: domainOf(a.email), quota: a.quota, usedBytes: a.usedBytes, admin: adminOf(a), createdAt: iso(a.createdAt) });
const appPasswordView = (a: AppPassword) => ({ id: a.id, name: a.name, createdAt: iso(a.createdAt), lastUsedAt: a.lastUsedAt === null ? null : iso(a.lastUsedAt) });
const sessionView = (p: Principal) => ({ email: p.account.email, scope: p.scope, domain: p.domain, csrfToken: p.csrfToken, expiresAt: iso(p.expiresAt) });

/** The outbound relay host (`[queue] smarthost`), or null for direct delivery to each MX. */
function relayHostOf(config: Config): string | null {
  return config.queue.smarthost === '' ? null : config.queue.smarthost;
}

export async function adminApi(app: FastifyInstance, options: AdminApiOptions): Promise<void> {
  const { config, store, authenticator, push } = options;
  const ops = adminOps(store);
  const sessions = new AdminSessions(store, { ...(options.clock ? { clock: options.clock } : {}), ...(options.idleMs !== undefined ? { idleMs: options.idleMs } : {}) });
  const now = () => options.clock?.now() ?? Date.now();
  const sweepTimer = setInterval(() => void sessions.sweep().catch(() => undefined), 3600_000);
  sweepTimer.unref();
  app.addHook('onClose', async () => clearInterval(sweepTimer));

  app.decorateRequest('principal', null);

  app.setErrorHandler((err, req, reply) => {
    const { error, internal } = toApiError(err, req.routeOptions.config.resource);
    if (internal) req.log.error({ err, url: req.url }, 'admin API failed');
    if (error.retryAfterSeconds !== undefined) reply.header('Retry-After', String(error.retryAfterSeconds));
    return reply.code(error.status).header('Cache-Control', 'no-store').send(errorBody(error));
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send(errorBody(new ApiError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`))));

  /** Same-origin check (browsers send Origin on POST/PUT/PATCH/DELETE, and Sec-Fetch-Site). */
  const checkOrigin = (req: FastifyRequest) => {
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none') throw new ApiError('csrf_failed', 'cross-site request refused');
    const origin = req.headers.origin;
    if (origin !== undefined) {
      const host = req.headers.host;
      if (origin === 'null' || host === undefined || origin.toLowerCase() !== `https://${host.toLowerCase()}`) throw new ApiError('csrf_failed', 'cross-origin request refused');
    }
  };

  app.addHook('preHandler', async (req) => {
    const level = req.routeOptions.config.auth ?? 'admin';
    const unsafe = req.method !== 'GET' && req.method !== 'HEAD';
    if (unsafe) checkOrigin(req);
    if (level === 'none') return;
    const principal = await sessions.resume(readCookie(req.headers.cookie, sessionCookieName));
    if (!principal) throw new ApiError('not_signed_in', 'sign in first (POST /api/v1/session)');
    if (unsafe) {
      const given = req.headers['x-csrf-token'];
      if (typeof given !== 'string' || !sameToken(given, principal.csrfToken)) throw new ApiError('csrf_failed', 'missing or wrong X-CSRF-Token header');
    }
    if (level === 'server' && principal.scope !== 'server') throw new ApiError('outside_scope', 'this needs a server administrator');
    req.principal = principal;
  });

  const me = (req: FastifyRequest): Principal => {
    if (!req.principal) throw new ApiError('not_signed_in', 'sign in first (POST /api/v1/session)');
    return req.principal;
  };
  const requireDomain = (p: Principal, domain: string) => {
    if (!mayAdminister(p, domain)) throw new ApiError('outside_scope', `you administer ${p.domain} only`);
  };
  /** Creating something in a domain: the domain must be the admin's and exist. */
  const requireExistingDomain = async (p: Principal, domain: string) => {
    requireDomain(p, domain);
    if (!(await store.getDomain(domain))) throw new ApiError('domain_not_found', `no such domain: ${domain} (add it first)`);
  };
  /** The domain filter of a list: a domain admin is held to its own domain. */
  const scopeFilter = (p: Principal, domain: string | undefined): string | undefined => {
    if (domain !== undefined) requireDomain(p, domain);
    return p.scope === 'server' ? domain : p.domain;
  };
  const accountIn = async (p: Principal, email: string): Promise<Account> => {
    requireDomain(p, domainOf(email));
    const a = await store.getAccountByEmail(email);
    if (!a) throw new ApiError('account_not_found', `no such account: ${email}`);
    return a;
  };
  /** The config with each listener's actual port where it was configured as 0 (ephemeral). */
  const effective = (): Config => {
    const actual = options.listeners?.() ?? [];
    const listen = { ...config.listen };
    for (const l of actual) {
      const key = l.listener as keyof Config['listen'];
      if (key in listen && /:0$/.test(listen[key])) listen[key] = listen[key].replace(/:0$/, `:${l.port}`);
    }
    return { ...config, listen };
  };
  const domainView = async (d: Domain) => ({
    name: d.name, createdAt: iso(d.createdAt), settings: d.settings, accounts: (await store.listAccounts(d.name)).length, push: pushDomainInfo(effective(), d.name),
  });
  const getDomain = async (p: Principal, name: string): Promise<Domain> => {
    requireDomain(p, name);
    const d = await store.getDomain(name);
    if (!d) throw new ApiError('domain_not_found', `no such domain: ${name}`);
    return d;
  };
  const accountEmails = new Map<number, string>();
  const emailOf = async (accountId: number | null): Promise<string | null> => {
    if (accountId === null) return null;
    let e = accountEmails.get(accountId);
    if (e === undefined) {
      e = (await store.getAccount(accountId))?.email ?? '';
      if (accountEmails.size > 10_000) accountEmails.clear();
      accountEmails.set(accountId, e);
    }
    return e === '' ? null : e;
  };
  const queueView = async (q: QueuedMessage) => ({
    id: q.id, sender: q.sender, size: q.size, createdAt: iso(q.createdAt), account: await emailOf(q.accountId),
    recipients: q.recipients.map((r) => ({ address: r.address, state: r.state, attempts: r.attempts, nextAttemptAt: iso(r.nextAttemptAt), lastError: r.lastError })),
  });
  /** A queue entry is a domain admin's when its sender (or submitting account) is in the domain. */
  const queueVisible = async (p: Principal, q: QueuedMessage) => {
    if (p.scope === 'server') return true;
    if (q.sender !== '' && domainOf(q.sender) === p.domain) return true;
    const e = await emailOf(q.accountId);
    return e !== null && domainOf(e) === p.domain;
  };
  const queueEntry = async (p: Principal, id: number) => {
    const q = await store.getQueuedMessage(id);
    if (!q || !(await queueVisible(p, q))) throw new ApiError('queue_entry_not_found', `no queued message ${id}`);
    return q;
  };
  const subscription = async (p: Principal, id: string): Promise<PushSubscription> => {
    const s = await store.push.getSubscription(id);
    if (!s || !mayAdminister(p, s.domain)) throw new ApiError('subscription_not_found', `no push subscription ${id}`);
    return s;
  };
  const grant = (p: Principal, admin: 'none' | 'domain' | 'server' | undefined) => {
    if (admin === 'server' && p.scope !== 'server') throw new ApiError('outside_scope', 'only a server administrator can make another');
    return admin === undefined ? {} : { isAdmin: admin !== 'none', ...(admin !== 'none' ? { adminScope: admin } : {}) };
  };

  // ---- session ----

  app.post('/session', {
    config: { auth: 'none' },
    schema: {
      summary: 'Sign in (admins only); sets the session cookie', tags: ['session'],
      body: obj({ email: str({ minLength: 1, maxLength: 320 }), password: str({ minLength: 1, maxLength: 1024 }) }, ['email', 'password']),
      response: created(sessionSchema),
    },
  }, async (req, reply) => {
    const body = req.body as { email: string; password: string };
    // The console takes the account password only: an app password is for one mail client.
    const result = await authenticator.authenticate({ username: body.email, password: body.password, remoteAddress: req.ip, protocol: 'http', appPasswords: false });
    if (!result.ok) {
      if (result.reason === 'locked') throw new ApiError('locked_out', 'too many failed sign-ins; try again later', result.retryAfterSeconds !== undefined ? { retryAfterSeconds: result.retryAfterSeconds } : {});
      throw new ApiError('sign_in_failed', 'wrong address or password');
    }
    if (!result.account.isAdmin) throw new ApiError('not_admin', `${result.account.email} is not an administrator`);
    const principal = await sessions.create(result.account, { remoteAddress: req.ip, userAgent: String(req.headers['user-agent'] ?? '') });
    return reply.code(201).header('Set-Cookie', sessionCookie(principal.token)).header('Cache-Control', 'no-store').send(sessionView(principal));
  });

  app.get('/session', { schema: { summary: 'The signed-in admin and the CSRF token', tags: ['session'], response: ok(sessionSchema) } }, async (req, reply) => {
    return reply.header('Cache-Control', 'no-store').send(sessionView(me(req)));
  });

  app.delete('/session', { schema: { summary: 'Sign out', tags: ['session'], response: noContent } }, async (req, reply) => {
    await sessions.end(me(req));
    return reply.code(204).header('Set-Cookie', clearedSessionCookie()).send();
  });

  // ---- dashboard and system ----

  app.get('/dashboard', { schema: { summary: 'Listeners, certificate, counts, queue, recent failures', tags: ['dashboard'], response: ok(dashboardSchema) } }, async (req) => {
    const p = me(req);
    const domain = p.scope === 'server' ? undefined : p.domain;
    const domains = domain === undefined ? await store.listDomains() : [await store.getDomain(domain)].filter((d): d is Domain => d !== undefined);
    const accounts = await store.listAccounts(domain);
    let messages = 0;
    for (const a of accounts) for (const m of await store.listMailboxes(a.id)) messages += m.messageCount;
    const queue = [];
    for (const q of await store.listQueue()) if (await queueVisible(p, q)) queue.push(q);
    const cert = options.tls?.info();
    return {
      hostname: config.hostname,
      listeners: options.listeners?.() ?? [],
      certificate: cert ? { subject: cert.subject, altNames: cert.altNames, notAfter: iso(cert.notAfter), daysLeft: Math.floor((cert.notAfter - now()) / 86_400_000), selfSigned: cert.selfSigned } : null,
      counts: {
        domains: domains.length, accounts: accounts.length, messages,
        pushSubscriptions: (await store.push.listSubscriptions(domain !== undefined ? { domain } : {})).length,
      },
      queue: {
        messages: queue.length,
        deferred: queue.filter((q) => q.recipients.some((r) => r.state === 'deferred')).length,
        failed: queue.filter((q) => q.recipients.some((r) => r.state === 'failed')).length,
      },
      recentFailures: options.recentFailures?.list(domain !== undefined ? { domain } : {}) ?? [],
    };
  });

  app.get('/system', { schema: { summary: 'System configuration > Mail: hostname, limits, relay host, My Networks', tags: ['system'], response: ok(systemSchema) } }, async (req) => {
    const p = me(req);
    return {
      hostname: config.hostname, maxMessageSize: config.limits.max_message_size, relayHost: relayHostOf(config),
      pushEnabled: push ? await push.isEnabled() : false,
      networks: p.scope === 'server' ? (await ops.listNetworks()).map((n) => ({ cidr: n.cidr, note: n.note })) : [],
    };
  });

  // ---- domains ----

  app.get('/domains', { config: { resource: 'domain' }, schema: { summary: 'List domains', tags: ['domains'], response: ok(list(domainSchema)) } }, async (req) => {
    const p = me(req);
    const all = await ops.listDomains();
    return Promise.all(all.filter((d) => mayAdminister(p, d.name)).map(domainView));
  });

  app.post('/domains', {
    config: { auth: 'server', resource: 'domain' },
    schema: { summary: 'Add a domain', tags: ['domains'], body: obj({ name: str({ minLength: 1, maxLength: 255 }) }, ['name']), response: created(domainSchema) },
  }, async (req, reply) => reply.code(201).send(await domainView(await ops.addDomain((req.body as { name: string }).name))));

  app.get('/domains/:domain', { config: { resource: 'domain' }, schema: { summary: 'One domain with its settings and push integration values', tags: ['domains'], params: domainParam, response: ok(domainSchema) } }, async (req) => {
    return domainView(await getDomain(me(req), (req.params as { domain: string }).domain));
  });

  app.patch('/domains/:domain', {
    config: { resource: 'domain' },
    schema: {
      summary: 'Change domain settings (push integration, sender rule)', tags: ['domains'], params: domainParam,
      body: obj({ pushEnabled: bool, pushDetails: bool, pushAllowedHosts: { ...list(str({ maxLength: 255 })), maxItems: 100 }, enforceSender: bool }),
      response: ok(domainSchema),
    },
  }, async (req) => {
    const d = await getDomain(me(req), (req.params as { domain: string }).domain);
    return domainView(await ops.setDomainSettings(d.name, req.body as Partial<Domain['settings']>));
  });

  app.delete('/domains/:domain', {
    config: { auth: 'server', resource: 'domain' },
    schema: { summary: 'Remove a domain (force=true also removes its accounts)', tags: ['domains'], params: domainParam, querystring: obj({ force: bool }), response: noContent },
  }, async (req, reply) => {
    await ops.removeDomain((req.params as { domain: string }).domain, { force: (req.query as { force?: boolean }).force ?? false });
    return reply.code(204).send();
  });

  app.get('/domains/:domain/dns', { config: { resource: 'domain' }, schema: { summary: 'DNS records to publish for the domain', tags: ['domains'], params: domainParam, response: ok(dnsSchema) } }, async (req) => {
    const d = await getDomain(me(req), (req.params as { domain: string }).domain);
    const key = await store.queue.getDkimKey(d.name);
    return { records: dnsRecords(effective(), d.name, key ? { dkim: dkimRecord(key) } : {}) };
  });

  // ---- accounts ----

  app.get('/accounts', { config: { resource: 'domain' }, schema: { summary: 'List accounts', tags: ['accounts'], querystring: domainQuery, response: ok(list(accountSchema)) } }, async (req) => {
    const domain = scopeFilter(me(req), (req.query as { domain?: string }).domain);
    return (await ops.listUsers(domain)).map(accountView);
  });

  app.post('/accounts', {
    config: { resource: 'account' },
    schema: {
      summary: 'Add an account', tags: ['accounts'],
      body: obj({ email: str({ minLength: 3, maxLength: 320 }), password: str({ minLength: 1, maxLength: 1024 }), quota: int({ minimum: 0 }), admin: adminLevel }, ['email', 'password']),
      response: created(accountSchema),
    },
  }, async (req, reply) => {
    const p = me(req);
    const body = req.body as { email: string; password: string; quota?: number; admin?: 'none' | 'domain' | 'server' };
    await requireExistingDomain(p, domainOf(body.email));
    const a = await ops.addUser({ email: body.email, password: body.password, ...(body.quota !== undefined ? { quota: body.quota } : {}), ...grant(p, body.admin) });
    return reply.code(201).send(accountView(a));
  });

  app.get('/accounts/:email', { config: { resource: 'account' }, schema: { summary: 'One account', tags: ['accounts'], params: emailParam, response: ok(accountSchema) } }, async (req) => {
    return accountView(await accountIn(me(req), (req.params as { email: string }).email));
  });

  app.patch('/accounts/:email', {
    config: { resource: 'account' },
    schema: { summary: 'Change quota or admin rights', tags: ['accounts'], params: emailParam, body: obj({ quota: int({ minimum: 0 }), admin: adminLevel }), response: ok(accountSchema) },
  }, async (req) => {
    const p = me(req);
    const a = await accountIn(p, (req.params as { email: string }).email);
    const body = req.body as { quota?: number; admin?: 'none' | 'domain' | 'server' };
    if (a.isAdmin && a.adminScope === 'server' && p.scope !== 'server' && body.admin !== undefined) throw new ApiError('outside_scope', 'only a server administrator can change a server administrator');
    return accountView(await ops.updateUser(a.email, { ...(body.quota !== undefined ? { quota: body.quota } : {}), ...grant(p, body.admin) }));
  });

  app.put('/accounts/:email/password', {
    config: { resource: 'account' },
    schema: { summary: 'Set the password', tags: ['accounts'], params: emailParam, body: obj({ password: str({ minLength: 1, maxLength: 1024 }) }, ['password']), response: noContent },
  }, async (req, reply) => {
    const a = await accountIn(me(req), (req.params as { email: string }).email);
    await ops.setPassword(a.email, (req.body as { password: string }).password);
    return reply.code(204).send();
  });

  app.delete('/accounts/:email', { config: { resource: 'account' }, schema: { summary: 'Remove an account and its mail', tags: ['accounts'], params: emailParam, response: noContent } }, async (req, reply) => {
    const a = await accountIn(me(req), (req.params as { email: string }).email);
    await ops.removeUser(a.email);
    return reply.code(204).send();
  });

  app.get('/accounts/:email/push-subscriptions', {
    config: { resource: 'account' },
    schema: { summary: 'The account\'s push subscriptions', tags: ['accounts', 'push'], params: emailParam, response: ok(list(subscriptionSchema)) },
  }, async (req) => {
    const a = await accountIn(me(req), (req.params as { email: string }).email);
    return (await store.push.listSubscriptions({ accountId: a.id })).map(integratedAccount);
  });

  app.get('/accounts/:email/app-passwords', {
    config: { resource: 'account' },
    schema: { summary: 'The account\'s app passwords (never the passwords themselves)', tags: ['accounts'], params: emailParam, response: ok(list(appPasswordSchema)) },
  }, async (req, reply) => {
    const a = await accountIn(me(req), (req.params as { email: string }).email);
    return reply.header('Cache-Control', 'no-store').send((await ops.listAppPasswords(a.email)).map(appPasswordView));
  });

  app.post('/accounts/:email/app-passwords', {
    config: { resource: 'app_password' },
    schema: {
      summary: 'Make an app password for one mail client or device; the answer carries it, once', tags: ['accounts'], params: emailParam,
      body: obj({ name: str({ minLength: 1, maxLength: 100 }) }, ['name']), response: created(newAppPasswordSchema),
    },
  }, async (req, reply) => {
    const p = me(req);
    const a = await accountIn(p, (req.params as { email: string }).email);
    const { appPassword, password } = await ops.addAppPassword(a.email, (req.body as { name: string }).name);
    req.log.info({ account: a.email, appPasswordId: appPassword.id, by: p.account.email }, 'app password created by an admin');
    return reply.code(201).header('Cache-Control', 'no-store').send({ ...appPasswordView(appPassword), password });
  });

  app.delete('/accounts/:email/app-passwords/:id', {
    config: { resource: 'app_password' },
    schema: {
      summary: 'Revoke an app password (logins with it fail; push subscriptions made with it end)', tags: ['accounts'],
      params: obj({ email: str({ maxLength: 320 }), id: int({ minimum: 1 }) }, ['email', 'id']), response: noContent,
    },
  }, async (req, reply) => {
    const p = me(req);
    const params = req.params as { email: string; id: number };
    const a = await accountIn(p, params.email);
    await ops.removeAppPassword(a.email, params.id);
    req.log.info({ account: a.email, appPasswordId: params.id, by: p.account.email }, 'app password revoked by an admin');
    return reply.code(204).send();
  });

  // ---- aliases ----

  app.get('/aliases', { config: { resource: 'domain' }, schema: { summary: 'List aliases', tags: ['aliases'], querystring: domainQuery, response: ok(list(aliasSchema)) } }, async (req) => {
    const domain = scopeFilter(me(req), (req.query as { domain?: string }).domain);
    return (await ops.listAliases(domain)).map((a) => ({ address: a.address, targets: a.targets }));
  });

  app.post('/aliases', {
    config: { resource: 'alias' },
    schema: {
      summary: 'Add an alias ("@domain" is the catch-all)', tags: ['aliases'],
      body: obj({ address: str({ minLength: 2, maxLength: 320 }), targets: { ...list(str({ minLength: 3, maxLength: 320 })), minItems: 1, maxItems: 1000 } }, ['address', 'targets']),
      response: created(aliasSchema),
    },
  }, async (req, reply) => {
    const body = req.body as { address: string; targets: string[] };
    await requireExistingDomain(me(req), domainOf(body.address));
    const a = await ops.addAlias(body.address, body.targets);
    return reply.code(201).send({ address: a.address, targets: a.targets });
  });

  app.delete('/aliases/:address', {
    config: { resource: 'alias' },
    schema: { summary: 'Remove an alias', tags: ['aliases'], params: obj({ address: str({ maxLength: 320 }) }, ['address']), response: noContent },
  }, async (req, reply) => {
    const address = (req.params as { address: string }).address;
    requireDomain(me(req), domainOf(address));
    await ops.removeAlias(address);
    return reply.code(204).send();
  });

  // ---- My Networks ----

  app.get('/networks', { config: { auth: 'server', resource: 'network' }, schema: { summary: 'My Networks: client ranges that may relay', tags: ['system'], response: ok(list(networkSchema)) } }, async () => {
    return (await ops.listNetworks()).map((n) => ({ cidr: n.cidr, note: n.note }));
  });

  app.post('/networks', {
    config: { auth: 'server', resource: 'network' },
    schema: { summary: 'Add a range to My Networks', tags: ['system'], body: obj({ cidr: str({ minLength: 2, maxLength: 64 }), note: str({ maxLength: 1000 }) }, ['cidr']), response: created(networkSchema) },
  }, async (req, reply) => {
    const body = req.body as { cidr: string; note?: string };
    const n = await ops.addNetwork(body.cidr, body.note);
    return reply.code(201).send({ cidr: n.cidr, note: n.note });
  });

  app.delete('/networks/:cidr', {
    config: { auth: 'server', resource: 'network' },
    schema: { summary: 'Remove a range from My Networks (URL-encode the "/")', tags: ['system'], params: obj({ cidr: str({ maxLength: 64 }) }, ['cidr']), response: noContent },
  }, async (req, reply) => {
    await ops.removeNetwork((req.params as { cidr: string }).cidr);
    return reply.code(204).send();
  });

  // ---- push subscriptions (Integrated Accounts) ----

  app.get('/push-subscriptions', {
    config: { resource: 'subscription' },
    schema: { summary: 'Integrated Accounts: every push subscription, its state and last error', tags: ['push'], querystring: domainQuery, response: ok(list(subscriptionSchema)) },
  }, async (req) => {
    const domain = scopeFilter(me(req), (req.query as { domain?: string }).domain);
    return (await store.push.listSubscriptions(domain !== undefined ? { domain } : {})).map(integratedAccount);
  });

  app.delete('/push-subscriptions/:id', {
    config: { resource: 'subscription' },
    schema: { summary: 'Unsubscribe (end the subscription)', tags: ['push'], params: obj({ id: str({ maxLength: 200 }) }, ['id']), response: noContent },
  }, async (req, reply) => {
    const p = me(req);
    const s = await subscription(p, (req.params as { id: string }).id);
    if (!(await store.push.deleteSubscription(s.id))) throw new ApiError('subscription_not_found', `no push subscription ${s.id}`);
    req.log.info({ subscriptionId: s.id, account: s.account, by: p.account.email }, 'push subscription removed by an admin');
    return reply.code(204).send();
  });

  // ---- outbound queue ----

  app.get('/queue', { config: { resource: 'queue_entry' }, schema: { summary: 'Messages on the outbound queue', tags: ['queue'], response: ok(list(queueEntrySchema)) } }, async (req) => {
    const p = me(req);
    const out = [];
    for (const q of await store.listQueue()) if (await queueVisible(p, q)) out.push(await queueView(q));
    return out;
  });

  const idParam = obj({ id: int({ minimum: 1 }) }, ['id']);
  app.get('/queue/:id', { config: { resource: 'queue_entry' }, schema: { summary: 'One queued message', tags: ['queue'], params: idParam, response: ok(queueEntrySchema) } }, async (req) => {
    return queueView(await queueEntry(me(req), (req.params as { id: number }).id));
  });

  app.post('/queue/:id/retry', { config: { resource: 'queue_entry' }, schema: { summary: 'Try the message again now', tags: ['queue'], params: idParam, response: noContent } }, async (req, reply) => {
    const q = await queueEntry(me(req), (req.params as { id: number }).id);
    if (!options.queue) throw new ApiError('not_available', 'the outbound queue worker is not part of this server yet');
    await options.queue.retry(q.id);
    return reply.code(204).send();
  });

  app.delete('/queue/:id', { config: { resource: 'queue_entry' }, schema: { summary: 'Remove the message from the queue (no bounce)', tags: ['queue'], params: idParam, response: noContent } }, async (req, reply) => {
    const q = await queueEntry(me(req), (req.params as { id: number }).id);
    if (options.queue?.remove) await options.queue.remove(q.id);
    else await store.removeQueuedMessage(q.id);
    return reply.code(204).send();
  });
}
