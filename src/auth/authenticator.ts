// The one place a login is decided, for every protocol (IMAP, POP3, SMTP AUTH, HTTP, push).
//
// authenticate(): throttle check → resolve the login name → verify the password → answer.
// - The login name is the account's full address (domain case-insensitive), or an alias address
//   whose targets resolve to exactly one local account.
// - A locked address or account is answered at once ({ok:false, reason:'locked'}) without
//   looking at the password, so the protocol can say why (IMAP NO [UNAVAILABLE], SMTP 454 4.7.0,
//   POP3 -ERR [AUTH]).
// - A failure waits the throttle's progressive delay before resolving. An unknown user costs the
//   same as a wrong password (a dummy scrypt hash is verified).
// - Every failure is logged with protocol, remote address and username; never the password.
// - A successful login with an imported or weaker hash stores a fresh scrypt hash (best effort).
// - The password may be the account's password or one of its app passwords (app-passwords.ts),
//   unless the request says appPasswords: false (the admin console). A login costs at most two
//   scrypt computations: the app password stored under the typed password's lookup key (only when
//   it has an app password's shape and the key is found), then the account password. The answer
//   names the credential used; an app password's last use is written at most once a minute.
import type { Config } from '../config/schema.js';
import type { Account, Store } from '../store/store.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';
import { hashPassword, MAX_PASSWORD_BYTES, needsRehash, verifyPassword } from './passwords.js';
import { LoginThrottle } from './throttle.js';
import { appPasswordLookup, normalizeAppPassword } from './app-passwords.js';

export type Protocol = 'imap' | 'pop3' | 'smtp' | 'http' | 'push';

export interface AuthRequest {
  username: string;
  password: string;
  remoteAddress: string;
  protocol: Protocol;
  /** Whether an app password may stand for the account password (default true). */
  appPasswords?: boolean;
}

/** Which credential a successful login used. */
export type Credential = { kind: 'password' } | { kind: 'app'; id: number; name: string };

export type AuthResult = { ok: true; account: Account; credential: Credential } | { ok: false; reason: 'invalid' | 'locked'; retryAfterSeconds?: number };

/** An app password's last use is written again only after this long. */
export const APP_PASSWORD_TOUCH_MS = 60_000;

/** What metrics and the console's "recent failures" learn of each login (never the password). */
export interface LoginEvent {
  protocol: Protocol;
  outcome: 'ok' | 'failed' | 'locked';
  remoteAddress: string;
  /** Bounded to MAX_USERNAME_LENGTH. */
  username: string;
  /** Time to decide, failure delay included. */
  seconds: number;
}

export interface LoginObserver {
  /** Must not throw or block. */
  loginResult(event: LoginEvent): void;
}

export interface AuthenticatorOptions {
  auth: Config['auth'];
  clock?: Clock;
  logger?: Logger;
  /** How a failure waits its delay; default setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /** Bound on tracked addresses/accounts in the throttle. */
  maxTrackedKeys?: number;
  /** Told of every login's outcome (metrics, recent failures). */
  metrics?: LoginObserver;
}

/** Longest login name considered (RFC 5321 §4.5.3.1.3 path limit is 256; be generous). */
export const MAX_USERNAME_LENGTH = 320;

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Lower-case the domain part (and only it); null when the name is not local@domain. */
function addressForm(username: string): string | null {
  const at = username.lastIndexOf('@');
  if (at <= 0 || at === username.length - 1) return null;
  return `${username.slice(0, at)}@${username.slice(at + 1).toLowerCase()}`;
}

export class Authenticator {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #throttle: LoginThrottle;
  readonly #observer: LoginObserver | undefined;
  #dummyHash: Promise<string> | undefined;

  constructor(store: Store, options: AuthenticatorOptions) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger();
    this.#sleep = options.sleep ?? defaultSleep;
    const throttleOptions: ConstructorParameters<typeof LoginThrottle>[0] = { auth: options.auth, clock: this.#clock };
    if (options.maxTrackedKeys !== undefined) throttleOptions.maxKeys = options.maxTrackedKeys;
    this.#throttle = new LoginThrottle(throttleOptions);
    this.#observer = options.metrics;
    // Ready before the first unknown-user attempt, so that one costs no more than the others.
    this.#dummy().catch(() => undefined);
  }

  /** The throttle (for protocols that count other abuse, and for metrics). */
  get throttle(): LoginThrottle {
    return this.#throttle;
  }

  async authenticate(request: AuthRequest): Promise<AuthResult> {
    const started = process.hrtime.bigint();
    const result = await this.#authenticate(request);
    if (this.#observer) {
      const outcome = result.ok ? 'ok' : result.reason === 'locked' ? 'locked' : 'failed';
      const username = typeof request.username === 'string' ? request.username.trim().slice(0, MAX_USERNAME_LENGTH) : '';
      try {
        this.#observer.loginResult({ protocol: request.protocol, outcome, remoteAddress: String(request.remoteAddress), username, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
      } catch (err) {
        this.#logger.error({ err: errorMessage(err) }, 'login observer threw');
      }
    }
    return result;
  }

  async #authenticate(request: AuthRequest): Promise<AuthResult> {
    const { protocol, remoteAddress } = request;
    const username = typeof request.username === 'string' ? request.username.trim() : '';
    const password = typeof request.password === 'string' ? request.password : '';
    const logName = username.slice(0, MAX_USERNAME_LENGTH);

    const check = this.#throttle.check(remoteAddress, username);
    if (check.locked) {
      this.#logger.warn({ protocol, remoteAddress, username: logName, reason: 'locked', by: check.by, retryAfterSeconds: check.retryAfterSeconds }, 'login refused: locked out');
      return { ok: false, reason: 'locked', retryAfterSeconds: check.retryAfterSeconds };
    }

    const wellFormed =
      username.length > 0 && username.length <= MAX_USERNAME_LENGTH && password.length > 0 && Buffer.byteLength(password, 'utf8') <= MAX_PASSWORD_BYTES;
    let account: Account | undefined;
    if (wellFormed) {
      try {
        account = await this.#resolve(username);
      } catch (err) {
        this.#logger.error({ protocol, remoteAddress, username: logName, err: errorMessage(err) }, 'login: account lookup failed');
        throw err;
      }
    }
    if (account && wellFormed && request.appPasswords !== false) {
      const app = await this.#appPassword(account, password);
      if (app) {
        this.#throttle.recordSuccess(remoteAddress, username);
        this.#logger.info({ protocol, remoteAddress, username: logName, accountId: account.id, credential: 'app', appPasswordId: app.id }, 'login');
        return { ok: true, account, credential: { kind: 'app', ...app } };
      }
    }
    // Same work whether or not the account exists.
    const stored = account?.passwordHash ?? (await this.#dummy());
    const good = (await verifyPassword(wellFormed ? password : '\u0000', stored)) && account !== undefined && wellFormed;

    if (good && account) {
      this.#throttle.recordSuccess(remoteAddress, username);
      this.#logger.info({ protocol, remoteAddress, username: logName, accountId: account.id, credential: 'password' }, 'login');
      if (needsRehash(account.passwordHash)) account = await this.#upgrade(account, password);
      return { ok: true, account, credential: { kind: 'password' } };
    }

    const outcome = this.#throttle.recordFailure(remoteAddress, username);
    this.#logger.warn(
      {
        protocol,
        remoteAddress,
        username: logName,
        reason: account ? 'bad password' : wellFormed ? 'unknown user' : 'malformed',
        addressFailures: outcome.addressFailures,
        accountFailures: outcome.accountFailures,
        lockedOut: outcome.locked,
      },
      'login failed',
    );
    if (outcome.delayMs > 0) await this.#sleep(outcome.delayMs);
    return { ok: false, reason: 'invalid' };
  }

  /** The app password the typed password is, if any: one lookup, at most one scrypt. */
  async #appPassword(account: Account, password: string): Promise<{ id: number; name: string } | undefined> {
    const canonical = normalizeAppPassword(password);
    if (canonical === null) return undefined;
    for (const app of await this.#store.appPasswordCredentials(account.id, appPasswordLookup(account.id, canonical))) {
      if (!(await verifyPassword(canonical, app.passwordHash))) continue;
      const now = this.#clock.now();
      if (app.lastUsedAt === null || now - app.lastUsedAt >= APP_PASSWORD_TOUCH_MS || now < app.lastUsedAt) {
        try {
          await this.#store.touchAppPassword(app.id, now);
        } catch (err) {
          this.#logger.warn({ accountId: account.id, appPasswordId: app.id, err: errorMessage(err) }, 'app password last use not recorded');
        }
      }
      return { id: app.id, name: app.name };
    }
    return undefined;
  }

  /** Account for a login name: the address itself, else an alias naming exactly one local account. */
  async #resolve(username: string): Promise<Account | undefined> {
    const address = addressForm(username);
    if (address === null) return undefined;
    const direct = await this.#lookup(address);
    if (direct) return direct;
    const alias = (await this.#store.getAlias(address)) ?? (await this.#store.getAlias(address.toLowerCase()));
    if (!alias) return undefined;
    const targets = new Set<string>();
    for (const t of alias.targets) {
      const form = addressForm(t.trim());
      if (form === null) return undefined;
      targets.add(form.toLowerCase());
      if (targets.size > 1) return undefined;
    }
    const [only] = targets;
    return only === undefined ? undefined : this.#lookup(only);
  }

  async #lookup(address: string): Promise<Account | undefined> {
    const exact = await this.#store.getAccountByEmail(address);
    if (exact) return exact;
    const lower = address.toLowerCase();
    return lower === address ? undefined : this.#store.getAccountByEmail(lower);
  }

  #dummy(): Promise<string> {
    this.#dummyHash ??= hashPassword(`dummy-${Math.random()}`);
    return this.#dummyHash;
  }

  async #upgrade(account: Account, password: string): Promise<Account> {
    try {
      const passwordHash = await hashPassword(password);
      const updated = await this.#store.updateAccount(account.id, { passwordHash });
      this.#logger.info({ accountId: account.id }, 'password hash upgraded to scrypt');
      return updated;
    } catch (err) {
      this.#logger.warn({ accountId: account.id, err: errorMessage(err) }, 'password hash upgrade failed');
      return account;
    }
  }
}
