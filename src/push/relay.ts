// The relay protocol v1 (PUSH.md "The relay protocol"): SUBSCRIBE, ACTIVATE, renewal and
// UNSUBSCRIBE, after HTTP has authenticated the relay as the account. Answers are typed
// (status + JSON body); refusals are RelayError with the PUSH.md status and, for 422, the field.
//
// Invariants: the secret is returned only in the SUBSCRIBE answer; the verification code (192 bits)
// is kept only as a SHA-256 hash and compared in constant time; a subscription belongs to its
// account (another account's id is answered as unknown); DELETE of an unknown id is 204.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Account, Domain, Store } from '../store/store.js';
import type { PushSubscription, WebPushKeys } from '../store/push-store.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import { Refused, errorMessage } from '../shared/errors.js';
import { CallbackRefused, checkCallbackTarget, checkCallbackUrl } from './callback.js';
import { checkWebPushKeys } from './web-push.js';
import { sendActivationMail } from './activation-mail.js';

/** Wrong verification codes before a pending subscription is deleted (PUSH.md "ACTIVATE"). */
export const maxWrongCodes = 5;
const maxDeviceIdLength = 200;
const maxDeviceNameLength = 200;
const maxMailboxes = 50;
const maxMailboxNameLength = 1000;

export class RelayError extends Error {
  override name = 'RelayError';
  readonly status: 401 | 403 | 404 | 422 | 429;
  readonly field: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(status: 401 | 403 | 404 | 422 | 429, message: string, options: { field?: string; retryAfterSeconds?: number } = {}) {
    super(message);
    this.status = status;
    this.field = options.field;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export interface RelayAnswer {
  status: 200 | 201 | 204;
  body?: Record<string, unknown>;
}

/** Fingerprint of the credential a subscription was made with: a hash of the stored password hash. */
export function credentialFingerprint(account: Pick<Account, 'passwordHash'>): string {
  return createHash('sha256').update('pigeon-push-credential\u0000').update(account.passwordHash).digest('hex').slice(0, 32);
}

/**
 * Fingerprint of an app password a subscription was made with: its id and a hash of its id and
 * stored hash. Independent of the account password, so a password change leaves it valid.
 */
export function appPasswordFingerprint(app: { id: number; passwordHash: string }): string {
  const digest = createHash('sha256').update(`pigeon-push-app-credential\u0000${app.id}\u0000`).update(app.passwordHash).digest('hex').slice(0, 32);
  return `app:${app.id}:${digest}`;
}

/** The fingerprints a subscription of this account may hold now: its password's and each app password's. */
export async function liveFingerprints(store: Store, account: Pick<Account, 'id' | 'passwordHash'>): Promise<Set<string>> {
  const live = new Set([credentialFingerprint(account)]);
  for (const app of await store.appPasswordCredentials(account.id)) live.add(appPasswordFingerprint(app));
  return live;
}

/** Why a subscription whose fingerprint is no longer live ends. */
export function endedReason(fingerprint: string): string {
  return fingerprint.startsWith('app:') ? 'app password revoked' : 'password changed';
}

export function hashCode(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}

export interface RelayDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock: Clock;
  /** Server-wide switch (config and the admin's setting). */
  serverEnabled: () => Promise<boolean>;
  /** A verification was queued: send it now. */
  kick: () => void;
}

/** The credential the relay authenticated with (auth/authenticator.ts Credential). */
export type RelayCredential = { kind: 'password' } | { kind: 'app'; id: number };

export interface RelayRequest {
  domain: string;
  /** The authenticated account. */
  account: Account;
  /** Which of the account's credentials; a subscription keeps its fingerprint. Default: the password. */
  credential?: RelayCredential;
  remoteAddress: string;
  body: unknown;
}

function field(body: Record<string, unknown>, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(body, name) ? body[name] : undefined;
}

function bodyObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new RelayError(422, 'the body must be a JSON object', { field: 'body' });
  return body as Record<string, unknown>;
}

function printable(value: unknown, name: string, max: number, options: { required: boolean }): string | undefined {
  if (value === undefined && !options.required) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > max || /[\u0000-\u001f\u007f]/.test(value)) {
    throw new RelayError(422, `${name} must be a string of 1 to ${max} printable characters`, { field: name });
  }
  return value;
}

function parseExpires(value: unknown, options: { now: number; maxMs: number }): number {
  const max = options.now + options.maxMs;
  if (value === undefined || value === null) return max;
  const t = typeof value === 'string' && value.length <= 64 ? Date.parse(value) : NaN;
  if (!Number.isFinite(t)) throw new RelayError(422, 'expires must be an RFC 3339 date-time', { field: 'expires' });
  if (t <= options.now) throw new RelayError(422, 'expires is in the past', { field: 'expires' });
  return Math.min(t, max);
}

function parseMailboxes(value: unknown): string[] {
  if (value === undefined) return ['INBOX'];
  if (!Array.isArray(value) || value.length === 0 || value.length > maxMailboxes) {
    throw new RelayError(422, `mailboxes must be a list of 1 to ${maxMailboxes} folder names`, { field: 'mailboxes' });
  }
  const out = new Set<string>();
  for (const m of value) {
    const name = printable(m, 'mailboxes', maxMailboxNameLength, { required: true })!;
    out.add(name.toUpperCase() === 'INBOX' ? 'INBOX' : name);
  }
  return [...out];
}

export class RelayProtocol {
  readonly #deps: RelayDeps;

  constructor(deps: RelayDeps) {
    this.#deps = deps;
  }

  /** The domain, its push switch and the account's membership; RelayError otherwise. */
  async #domainFor(request: Pick<RelayRequest, 'domain' | 'account'>): Promise<Domain> {
    const domain = await this.#deps.store.getDomain(request.domain);
    if (!domain) throw new RelayError(404, 'unknown domain');
    if (domain.id !== request.account.domainId) throw new RelayError(403, 'the account does not belong to this domain');
    if (!(await this.#deps.serverEnabled()) || !domain.settings.pushEnabled) throw new RelayError(403, 'push integration is off for this domain');
    return domain;
  }

  async #owned(id: unknown, request: Pick<RelayRequest, 'account'>): Promise<PushSubscription | undefined> {
    if (typeof id !== 'string' || id.length > 100) return undefined;
    const sub = await this.#deps.store.push.getSubscription(id);
    return sub && sub.accountId === request.account.id ? sub : undefined;
  }

  async subscribe(request: RelayRequest): Promise<RelayAnswer> {
    const { config, store, clock, logger } = this.#deps;
    const domain = await this.#domainFor(request);
    const body = bodyObject(request.body);
    const deviceId = printable(field(body, 'deviceId'), 'deviceId', maxDeviceIdLength, { required: true })!;
    const deviceName = printable(field(body, 'deviceName'), 'deviceName', maxDeviceNameLength, { required: false }) ?? deviceId;
    const rawUrl = field(body, 'callbackUrl');
    if (typeof rawUrl !== 'string') throw new RelayError(422, 'callbackUrl is required', { field: 'callbackUrl' });
    let keys: WebPushKeys | null = null;
    const rawKeys = field(body, 'keys');
    if (rawKeys !== undefined && rawKeys !== null) {
      const checked = checkWebPushKeys(rawKeys);
      if (typeof checked === 'string') throw new RelayError(422, checked, { field: 'keys' });
      keys = checked;
    }
    const mailboxes = parseMailboxes(field(body, 'mailboxes'));
    const now = clock.now();
    const expiresAt = parseExpires(field(body, 'expires'), { now, maxMs: config.push.default_lifetime_days * 86_400_000 });
    let url: URL;
    try {
      const checked = checkCallbackUrl(rawUrl, domain.settings.pushAllowedHosts);
      await checkCallbackTarget(checked);
      url = checked.url;
    } catch (err) {
      if (err instanceof CallbackRefused) {
        if (err.kind === 'invalid') throw new RelayError(422, `callbackUrl ${err.message}`, { field: 'callbackUrl' });
        throw new RelayError(403, `callback host not allowed: ${err.message}`);
      }
      throw err;
    }

    const fingerprint = await this.#fingerprint(request);
    const id = 'ps_' + randomBytes(16).toString('base64url');
    const secret = randomBytes(32).toString('base64url');
    const code = randomBytes(24).toString('base64url');
    let created: { subscription: PushSubscription; replaced: string | null };
    try {
      created = await store.push.createSubscription({
        id, accountId: request.account.id, deviceId, deviceName, callbackUrl: url.href, relayHost: url.host, keys, mailboxes, secret,
        codeHash: hashCode(code), credentialFingerprint: fingerprint, remoteAddress: request.remoteAddress,
        createdAt: now, expiresAt,
        verificationPayload: JSON.stringify({ type: 'PushVerification', subscriptionId: id, verificationCode: code }),
      }, { maxPerAccount: config.push.max_subscriptions_per_account });
    } catch (err) {
      if (err instanceof Refused && err.code === 'LIMIT') throw new RelayError(429, `too many push subscriptions for this account (at most ${config.push.max_subscriptions_per_account})`);
      throw err;
    }
    const sub = created.subscription;
    logger.info({ subscriptionId: id, account: sub.account, deviceId, relay: sub.relayHost, replaced: created.replaced, webPush: keys !== null }, 'push subscription requested');
    this.#deps.kick();
    await this.#mail(sub, 'subscribed', now);
    return { status: 201, body: { id, state: 'pending', expires: new Date(expiresAt).toISOString(), secret } };
  }

  async activate(request: RelayRequest & { id: string }): Promise<RelayAnswer> {
    const { store, clock, config, logger } = this.#deps;
    await this.#domainFor(request);
    const sub = await this.#owned(request.id, request);
    const now = clock.now();
    if (!sub) throw new RelayError(404, 'unknown subscription');
    if (sub.state === 'pending' && now - sub.createdAt >= config.push.pending_ttl_seconds * 1000) {
      await store.push.deleteSubscription(sub.id);
      logger.info({ subscriptionId: sub.id, account: sub.account }, 'pending push subscription expired');
      throw new RelayError(404, 'unknown subscription');
    }
    const body = bodyObject(request.body);
    const code = field(body, 'verificationCode');
    if (typeof code !== 'string' || code.length === 0 || code.length > 200) throw new RelayError(422, 'verificationCode is required', { field: 'verificationCode' });
    if (sub.state !== 'pending') {
      // Relays retry: a repeated ACTIVATE of an active subscription is answered the same way.
      return { status: 200, body: { id: sub.id, state: sub.state } };
    }
    const good = sub.codeHash !== null && timingSafeEqual(Buffer.from(hashCode(code), 'hex'), Buffer.from(sub.codeHash, 'hex'));
    if (!good) {
      const { failures, deleted } = await store.push.recordWrongCode(sub.id, maxWrongCodes);
      logger.warn({ subscriptionId: sub.id, account: sub.account, failures, deleted }, 'push activation with a wrong code');
      throw new RelayError(422, deleted ? 'wrong verificationCode; the subscription is deleted' : 'wrong verificationCode', { field: 'verificationCode' });
    }
    const mailboxes = [];
    for (const name of sub.mailboxes) {
      const m = await store.getMailbox(sub.accountId, name);
      if (m) mailboxes.push({ mailboxId: m.id, notifiedModseq: m.highestModseq, uidNext: m.uidNext });
    }
    if (!(await store.push.activate(sub.id, { now, mailboxes }))) throw new RelayError(404, 'unknown subscription');
    logger.info({ subscriptionId: sub.id, account: sub.account, relay: sub.relayHost }, 'push subscription activated');
    await this.#mail({ ...sub, state: 'active', activatedAt: now }, 'activated', now);
    return { status: 200, body: { id: sub.id, state: 'active' } };
  }

  async renew(request: RelayRequest & { id: string }): Promise<RelayAnswer> {
    const { store, clock, config } = this.#deps;
    await this.#domainFor(request);
    const sub = await this.#owned(request.id, request);
    if (!sub) throw new RelayError(404, 'unknown subscription');
    const body = request.body === undefined || request.body === null ? {} : bodyObject(request.body);
    const expiresAt = parseExpires(field(body, 'expires'), { now: clock.now(), maxMs: config.push.default_lifetime_days * 86_400_000 });
    if (!(await store.push.renew(sub.id, expiresAt))) throw new RelayError(404, 'unknown subscription');
    const state = sub.state === 'suspended' ? 'active' : sub.state;
    return { status: 200, body: { id: sub.id, state, expires: new Date(expiresAt).toISOString() } };
  }

  async unsubscribe(request: Omit<RelayRequest, 'body'> & { id: string }): Promise<RelayAnswer> {
    const domain = await this.#deps.store.getDomain(request.domain);
    if (!domain) throw new RelayError(404, 'unknown domain');
    const sub = await this.#owned(request.id, request);
    if (sub && (await this.#deps.store.push.deleteSubscription(sub.id))) {
      this.#deps.logger.info({ subscriptionId: sub.id, account: sub.account, relay: sub.relayHost }, 'push subscription removed by the relay');
    }
    return { status: 204 };
  }

  /** The fingerprint of the credential the request authenticated with (401 if it was revoked since). */
  async #fingerprint(request: Pick<RelayRequest, 'account' | 'credential'>): Promise<string> {
    const credential = request.credential ?? { kind: 'password' };
    if (credential.kind === 'password') return credentialFingerprint(request.account);
    const app = (await this.#deps.store.appPasswordCredentials(request.account.id)).find((a) => a.id === credential.id);
    if (!app) throw new RelayError(401, 'invalid credentials');
    return appPasswordFingerprint(app);
  }

  async #mail(sub: PushSubscription, kind: 'subscribed' | 'activated', now: number): Promise<void> {
    try {
      await sendActivationMail(this.#deps.store, sub, { kind, now, hostname: this.#deps.config.hostname });
    } catch (err) {
      // The subscription stands; the user just misses one information mail.
      this.#deps.logger.error({ subscriptionId: sub.id, err: errorMessage(err) }, 'push activation mail failed');
    }
  }
}
