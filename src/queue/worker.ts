// The outbound queue worker: takes due recipients from the store's queue, delivers them over SMTP
// (to each domain's MX hosts, or to the configured relay host), records each recipient's outcome,
// retries temporary failures with growing backoff until [queue] max_age_hours, and reports to the
// envelope sender with RFC 3464 DSNs (failure, one delay notice, success when asked for).
//
// Invariants:
// - A message accepted with 250 is delivered or bounced, never dropped: recipients leave the queue
//   only through queue.finish after their outcome (and any DSN) is recorded; a crash leaves them
//   leased until the lease runs out, then they are due again (at-least-once delivery).
// - Recipients are leased in the store before any attempt (queue-store.ts), so two workers (two
//   processes or nodes) never deliver the same recipient at the same time.
// - No bounce for the null sender (RFC 5321 §4.5.5); NOTIFY/RET/ENVID/ORCPT (RFC 3461) honoured;
//   default NOTIFY is FAILURE,DELAY (§4.1 leaves the default to the MTA).
// - Limits: at most [queue] concurrency connections, per_domain_concurrency per destination; at
//   most `maxBacklog` leased recipients held in memory.
// - Wake-ups: kick() (the SMTP server calls it after enqueueing), and a timer set to the next due
//   time (capped at pollMs, for mail queued by other processes). No busy loop.
import { EventEmitter, once } from 'node:events';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { AttemptOutcome, DsnAction, LeasedMessage, QueueRecipientDetail } from '../store/queue-store.js';
import type { Logger } from '../shared/logger.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { deliverMessage, resolveRecipient } from '../delivery/deliver.js';
import { connectSmtp, groupByDsn, type Connector, type RecipientResult, type SmtpSession, type SmtpTarget } from './client.js';
import { resolveRoute, systemResolver, type QueueResolver } from './mx.js';
import { retryDelay, timingFromConfig, type QueueTiming } from './schedule.js';
import { buildDsn, type DsnRecipient } from './dsn.js';
import { signMessage } from './dkim.js';

export interface QueueWorkerDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** DNS for MX lookups (default node:dns). */
  resolver?: QueueResolver;
  /** Opens SMTP connections (default nodemailer's SMTPConnection). */
  connect?: Connector;
  /** Port of MX hosts (25; tests point it at a local sink). */
  mxPort?: number;
  /** Longest sleep between two looks at the queue (default 30 s): mail queued by other processes. */
  pollMs?: number;
  /** How long a lease holds (default 15 min). */
  leaseMs?: number;
}

export interface QueueStats {
  attempts: number;
  delivered: number;
  deferred: number;
  failed: number;
  notices: number;
}

/** Events: 'outcome' (recipient detail, outcome), 'finished' (message id), 'notice' (message id, DsnRecipient[]). */
export interface QueueWorker {
  /** Look at the queue now (new mail, or an operator's retry). */
  kick(): void;
  /** Resolves once nothing is in flight and nothing is due (tests, benchmarks). */
  idle(): Promise<void>;
  close(options?: { timeoutMs?: number }): Promise<void>;
  readonly stats: QueueStats;
  readonly events: EventEmitter;
}

interface LeaseState {
  leased: LeasedMessage;
  leasedAt: number;
  /** Jobs not done yet. */
  pending: number;
  outcomes: Map<number, AttemptOutcome>;
  bytes?: Promise<{ original: Buffer; signed: Buffer }>;
}

interface Job {
  lease: LeaseState;
  destination: string;
  recipients: QueueRecipientDetail[];
}

type Connection = { session: SmtpSession; mta: string } | { error: { permanent: boolean; status: string; reply: string } };

/** Connection attempts per destination (hosts × addresses). */
const maxConnectAttempts = 6;
const smarthostKey = '\0smarthost';

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

class Worker implements QueueWorker {
  readonly stats: QueueStats = { attempts: 0, delivered: 0, deferred: 0, failed: 0, notices: 0 };
  readonly events = new EventEmitter();
  #deps: QueueWorkerDeps;
  #config: Config['queue'];
  #hostname: string;
  #store: Store;
  #logger: Logger;
  #clock: Clock;
  #resolver: QueueResolver;
  #connect: Connector;
  #timing: QueueTiming;
  #pollMs: number;
  #leaseMs: number;
  #maxBacklog: number;
  #queues = new Map<string, Job[]>();
  #domainActive = new Map<string, number>();
  #active = 0;
  #backlog = 0;
  #runners = new Set<Promise<void>>();
  #finalizing = new Set<Promise<void>>();
  #sessions = new Set<SmtpSession>();
  #passing = false;
  #again = false;
  #timer: NodeJS.Timeout | undefined;
  #scheduleSeq = 0;
  #closing = false;

  constructor(deps: QueueWorkerDeps) {
    this.#deps = deps;
    this.#config = deps.config.queue;
    this.#hostname = deps.config.hostname;
    this.#store = deps.store;
    this.#logger = deps.logger.child({ service: 'queue' });
    this.#clock = deps.clock ?? systemClock;
    this.#resolver = deps.resolver ?? systemResolver;
    this.#connect = deps.connect ?? connectSmtp;
    this.#timing = timingFromConfig(this.#config);
    this.#pollMs = deps.pollMs ?? 30_000;
    this.#leaseMs = deps.leaseMs ?? 15 * 60_000;
    this.#maxBacklog = Math.max(100, this.#config.concurrency * 50);
    this.events.setMaxListeners(0);
  }

  kick(): void {
    if (this.#closing) return;
    void this.#pass();
  }

  // ---- picking up due recipients ----

  async #pass(): Promise<void> {
    if (this.#closing) return;
    if (this.#passing) {
      this.#again = true;
      return;
    }
    this.#passing = true;
    try {
      do {
        this.#again = false;
        const room = this.#maxBacklog - this.#backlog;
        if (room <= 0) break;
        const leased = await this.#store.queue.leaseDue({ now: this.#clock.now(), leaseMs: this.#leaseMs, limit: room });
        let count = 0;
        for (const lm of leased) {
          count += lm.recipients.length;
          this.#admit(lm);
        }
        if (count >= room) this.#again = true;
        this.#startRunners();
      } while (this.#again && !this.#closing);
    } catch (err) {
      if (!this.#closing) this.#logger.error({ err: errorMessage(err) }, 'queue: picking up due mail failed');
    } finally {
      this.#passing = false;
      this.#settled();
      void this.#schedule();
    }
  }

  async #schedule(): Promise<void> {
    const seq = ++this.#scheduleSeq;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#closing || this.#passing || this.#backlog >= this.#maxBacklog) return;
    let next: number | null;
    try {
      next = await this.#store.queue.nextDue();
    } catch {
      next = null;
    }
    if (seq !== this.#scheduleSeq || this.#closing) return;
    const delay = next === null ? this.#pollMs : Math.min(Math.max(next - this.#clock.now(), 0), this.#pollMs);
    this.#timer = setTimeout(() => void this.#pass(), delay);
    this.#timer.unref();
  }

  #admit(lm: LeasedMessage): void {
    const now = this.#clock.now();
    const lease: LeaseState = { leased: lm, leasedAt: now, pending: 0, outcomes: new Map() };
    const due = lm.recipients.filter((r) => (r.state === 'queued' || r.state === 'deferred') && r.nextAttemptAt <= now);
    const byDestination = new Map<string, QueueRecipientDetail[]>();
    for (const r of due) {
      const key = this.#config.smarthost ? smarthostKey : domainOf(r.address);
      let list = byDestination.get(key);
      if (!list) byDestination.set(key, (list = []));
      list.push(r);
    }
    for (const [destination, recipients] of byDestination) {
      lease.pending += 1;
      this.#backlog += recipients.length;
      let q = this.#queues.get(destination);
      if (!q) this.#queues.set(destination, (q = []));
      q.push({ lease, destination, recipients });
    }
    // Nothing to attempt: only DSNs left from an earlier run.
    if (lease.pending === 0) this.#finalize(lease);
  }

  #startRunners(): void {
    const perDestination = this.#config.smarthost ? this.#config.concurrency : this.#config.per_domain_concurrency;
    for (const [destination, q] of this.#queues) {
      while (!this.#closing && q.length > 0 && this.#active < this.#config.concurrency && (this.#domainActive.get(destination) ?? 0) < perDestination) {
        this.#active += 1;
        this.#domainActive.set(destination, (this.#domainActive.get(destination) ?? 0) + 1);
        const p = this.#runner(destination).finally(() => {
          this.#runners.delete(p);
          this.#active -= 1;
          const n = (this.#domainActive.get(destination) ?? 1) - 1;
          if (n === 0) this.#domainActive.delete(destination);
          else this.#domainActive.set(destination, n);
          if (q.length === 0 && this.#queues.get(destination) === q) this.#queues.delete(destination);
          this.#startRunners();
          this.#settled();
          if (!this.#closing) void this.#pass();
        });
        this.#runners.add(p);
      }
    }
  }

  // ---- one connection working one destination's jobs ----

  async #runner(destination: string): Promise<void> {
    const q = this.#queues.get(destination);
    let conn: Connection | undefined;
    try {
      while (q && q.length > 0 && !this.#closing) {
        const job = q.shift()!;
        this.#backlog -= job.recipients.length;
        // A job that waited most of its lease is given back rather than risk a second node taking it over mid-attempt.
        if (this.#clock.now() > job.lease.leasedAt + this.#leaseMs * 0.8) {
          this.#jobDone(job.lease);
          continue;
        }
        if (!conn || ('session' in conn && !conn.session.usable)) {
          if (conn && 'session' in conn) this.#closeSession(conn.session);
          conn = await this.#open(destination);
        }
        await this.#workSafely(job, conn);
        this.#jobDone(job.lease);
        // A destination that cannot be reached fails its other waiting jobs the same way.
        if ('error' in conn) {
          while (q.length > 0) {
            const next = q.shift()!;
            this.#backlog -= next.recipients.length;
            await this.#workSafely(next, conn);
            this.#jobDone(next.lease);
          }
        }
      }
    } finally {
      if (conn && 'session' in conn) this.#closeSession(conn.session);
    }
  }

  #closeSession(session: SmtpSession): void {
    this.#sessions.delete(session);
    session.close();
  }

  async #open(destination: string): Promise<Connection> {
    const c = this.#config;
    const base = { ehloName: this.#hostname, connectTimeoutMs: c.connect_timeout_seconds * 1000 };
    const targets: SmtpTarget[] = [];
    if (destination === smarthostKey) {
      const at = c.smarthost.lastIndexOf(':');
      const host = c.smarthost.slice(0, at).replace(/^\[(.*)\]$/, '$1');
      targets.push({
        ...base, host, servername: host, port: Number(c.smarthost.slice(at + 1)),
        tls: c.smarthost_tls === 'none' ? 'none' : c.smarthost_tls === 'tls' ? 'tls' : 'starttls',
        verifyCertificate: c.smarthost_verify_certificate,
        ...(c.smarthost_username ? { auth: { user: c.smarthost_username, pass: c.smarthost_password } } : {}),
      });
    } else {
      let route;
      try {
        route = await resolveRoute(destination, this.#resolver);
      } catch (err) {
        return { error: { permanent: false, status: '4.4.3', reply: `DNS lookup for ${destination} failed: ${errorMessage(err)}` } };
      }
      if (route.kind === 'error') return { error: { permanent: route.permanent, status: route.status, reply: route.message } };
      for (const h of route.hosts) {
        for (const a of h.addresses) {
          targets.push({ ...base, host: a, servername: h.name, port: this.#deps.mxPort ?? 25, tls: 'opportunistic', verifyCertificate: c.mx_verify_certificate });
        }
      }
    }
    let last = 'no host to connect to';
    for (const t of targets.slice(0, maxConnectAttempts)) {
      if (this.#closing) break;
      try {
        const session = await this.#connect(t);
        this.#sessions.add(session);
        return { session, mta: t.servername };
      } catch (err) {
        last = errorMessage(err);
        this.#logger.info({ host: t.servername, address: t.host, port: t.port, err: last }, 'queue: connection failed');
      }
    }
    return { error: { permanent: false, status: '4.4.1', reply: last } };
  }

  async #bytes(lease: LeaseState): Promise<{ original: Buffer; signed: Buffer }> {
    lease.bytes ??= (async () => {
      const m = lease.leased.message;
      const original = await this.#store.readBlob(m.blobHash);
      // Signed when queued as ours (authenticated submission, My Networks, our DSNs: the dkimSign
      // flag) and its From domain has a key (signMessage); forwarded mail keeps its own signatures.
      if (!m.dkimSign) return { original, signed: original };
      try {
        const { raw } = await signMessage(this.#store, original, { now: this.#clock.now() });
        return { original, signed: raw };
      } catch (err) {
        // A broken key must not hold mail back: it goes unsigned, and the operator is told.
        this.#logger.error({ queueId: m.id, err: errorMessage(err) }, 'queue: DKIM signing failed; sending unsigned');
        return { original, signed: original };
      }
    })();
    return lease.bytes;
  }

  async #workSafely(job: Job, conn: Connection): Promise<void> {
    try {
      await this.#work(job, conn);
    } catch (err) {
      const reply = `internal error: ${errorMessage(err)}`;
      this.#logger.error({ queueId: job.lease.leased.message.id, err: reply }, 'queue: delivery attempt failed');
      for (const r of job.recipients) {
        if (!job.lease.outcomes.has(r.id)) this.#outcome(job.lease, r, { address: r.address, outcome: 4, reply, status: '4.3.0' }, null, false);
      }
    }
  }

  async #work(job: Job, conn: Connection): Promise<void> {
    const m = job.lease.leased.message;
    if ('error' in conn) {
      const e = conn.error;
      for (const r of job.recipients) this.#outcome(job.lease, r, { address: r.address, outcome: e.permanent ? 5 : 4, reply: e.reply, status: e.status }, null, false);
      return;
    }
    let raw: Buffer;
    try {
      raw = (await this.#bytes(job.lease)).signed;
    } catch (err) {
      const reply = `message not readable: ${errorMessage(err)}`;
      for (const r of job.recipients) this.#outcome(job.lease, r, { address: r.address, outcome: 4, reply, status: '4.3.0' }, null, false);
      return;
    }
    for (const group of groupByDsn(job.recipients)) {
      if (!conn.session.usable) {
        for (const r of group) this.#outcome(job.lease, r, { address: r.address, outcome: 4, reply: 'connection lost', status: '4.4.2' }, conn.mta, false);
        continue;
      }
      const result = await conn.session.send({ sender: m.sender, recipients: group, envid: m.dsnEnvid, ret: m.dsnRet, raw });
      const byAddress = new Map(result.recipients.map((x) => [x.address, x]));
      for (const r of group) {
        const x = byAddress.get(r.address) ?? { address: r.address, outcome: 4 as const, reply: 'no reply for this recipient', status: '4.0.0' };
        this.#outcome(job.lease, r, x, conn.mta, result.serverDsn);
      }
    }
  }

  /** Turn one recipient's result into its new state, next attempt and DSN (RFC 3461 §6.2). */
  #outcome(lease: LeaseState, r: QueueRecipientDetail, result: RecipientResult, mta: string | null, serverDsn: boolean): void {
    const m = lease.leased.message;
    const now = this.#clock.now();
    const attempts = r.attempts + 1;
    const never = r.notify.includes('NEVER');
    const wants = (what: 'SUCCESS' | 'FAILURE' | 'DELAY') =>
      m.sender !== '' && !never && (r.notify.length === 0 ? what !== 'SUCCESS' : r.notify.includes(what));
    const base = { recipientId: r.id, attempts, lastError: result.outcome === 2 ? null : result.reply, statusCode: result.status, remoteMta: mta };
    let o: AttemptOutcome;
    this.stats.attempts += 1;
    if (result.outcome === 2) {
      this.stats.delivered += 1;
      // A server without DSN cannot report success itself: we say "relayed" (RFC 3461 §6.2.1).
      o = { ...base, state: 'delivered', nextAttemptAt: now, dsnPending: wants('SUCCESS') && !serverDsn ? 'relayed' : null };
    } else {
      const age = now - m.createdAt;
      if (result.outcome === 5 || age >= this.#timing.maxAgeMs) {
        this.stats.failed += 1;
        const reply = result.outcome === 5 ? result.reply : `${result.reply} (gave up after ${Math.round(age / 3_600_000)} hours)`;
        o = { ...base, lastError: reply, state: 'failed', nextAttemptAt: now, dsnPending: wants('FAILURE') ? 'failed' : null };
      } else {
        this.stats.deferred += 1;
        const next = Math.min(now + retryDelay(this.#timing, attempts), m.createdAt + this.#timing.maxAgeMs);
        const notice = this.#timing.delayNoticeMs > 0 && age >= this.#timing.delayNoticeMs && !r.delayNotified && wants('DELAY');
        o = { ...base, state: 'deferred', nextAttemptAt: next, dsnPending: notice ? 'delayed' : null, ...(notice ? { delayNotified: true } : {}) };
      }
    }
    // A DSN still owed from an earlier run is kept unless this outcome brings a newer one.
    if (o.dsnPending === null && r.dsnPending !== null && !(r.dsnPending === 'delayed' && o.state !== 'deferred')) o.dsnPending = r.dsnPending;
    lease.outcomes.set(r.id, o);
    this.#logger.info({ queueId: m.id, to: r.address, state: o.state, attempts, mta, reply: result.reply.slice(0, 200) }, 'queue: delivery attempt');
    this.events.emit('outcome', r, o);
  }

  #jobDone(lease: LeaseState): void {
    lease.pending -= 1;
    if (lease.pending === 0) this.#finalize(lease);
  }

  // ---- recording, DSNs, end of lease ----

  #finalize(lease: LeaseState): void {
    const p = this.#finish(lease).finally(() => {
      this.#finalizing.delete(p);
      this.#settled();
    });
    this.#finalizing.add(p);
  }

  async #finish(lease: LeaseState): Promise<void> {
    const { leased } = lease;
    const m = leased.message;
    try {
      const outcomes = [...lease.outcomes.values()];
      const owed = leased.recipients
        .map((r) => ({ r, o: lease.outcomes.get(r.id) }))
        .map(({ r, o }) => ({ r, o, action: o ? o.dsnPending : r.dsnPending }))
        .filter((x): x is { r: QueueRecipientDetail; o: AttemptOutcome | undefined; action: DsnAction } => x.action !== null);
      // Outcomes are recorded before a DSN goes out (a crash then retries the DSN, not the delivery),
      // and with the end of the lease when there is no DSN (one transaction per message).
      const notices = owed.length > 0 && m.sender !== '';
      if (notices && outcomes.length > 0) await this.#store.queue.record(leased.leaseToken, outcomes);
      if (notices) await this.#notify(lease, owed);
      await this.#store.queue.finish(leased.leaseToken, { noticesSent: owed.map((x) => x.r.id), ...(!notices && outcomes.length > 0 ? { outcomes } : {}) });
      this.events.emit('finished', m.id);
    } catch (err) {
      // The lease runs out and the recipients (or their DSNs) come back then.
      this.#logger.error({ queueId: m.id, err: errorMessage(err) }, 'queue: recording the outcome failed; retried when the lease ends');
    }
  }

  async #notify(lease: LeaseState, owed: Array<{ r: QueueRecipientDetail; o: AttemptOutcome | undefined; action: DsnAction }>): Promise<void> {
    const m = lease.leased.message;
    const now = this.#clock.now();
    const recipients: DsnRecipient[] = owed.map(({ r, o, action }) => ({
      address: r.address,
      orcpt: r.orcpt,
      action,
      status: action === 'failed' || action === 'delayed' ? (o?.statusCode ?? r.statusCode ?? (action === 'failed' ? '5.0.0' : '4.0.0')) : '2.0.0',
      diagnostic: o ? o.lastError : r.lastError,
      remoteMta: (o ? o.remoteMta : r.remoteMta) ?? null,
      lastAttempt: o ? now : null,
      willRetryUntil: action === 'delayed' ? m.createdAt + this.#timing.maxAgeMs : null,
    }));
    // Failed after a 4xx answer until max age: RFC 3463 §3.5 4.4.7 "delivery time expired" when nothing better is known.
    for (const x of recipients) if (x.action === 'failed' && x.status.startsWith('4')) x.status = x.status === '4.0.0' ? '4.4.7' : x.status;
    const { original } = await this.#bytes(lease);
    const dsn = buildDsn({ hostname: this.#hostname, message: m, raw: original, recipients, now });
    const resolution = await resolveRecipient(this.#store, m.sender).catch(() => ({ kind: 'unknown' as const }));
    if (resolution.kind === 'remote') {
      await this.#store.enqueueMessage({ sender: '', recipients: [{ address: m.sender, notify: [], orcpt: null }], raw: dsn, dsnRet: null, dsnEnvid: null, accountId: null, dkimSign: true });
      this.kick();
    } else if (resolution.kind === 'local') {
      const [res] = await deliverMessage(this.#store, { raw: dsn, recipients: [m.sender] });
      if (res && res.status !== 'delivered') this.#logger.warn({ queueId: m.id, sender: m.sender, status: res.status, err: res.message }, 'queue: DSN not delivered to the local sender');
      if (res && res.remote.length > 0) {
        await this.#store.enqueueMessage({ sender: '', recipients: res.remote.map((address) => ({ address, notify: [], orcpt: null })), raw: dsn, dsnRet: null, dsnEnvid: null, accountId: null, dkimSign: true });
        this.kick();
      }
    } else {
      this.#logger.warn({ queueId: m.id, sender: m.sender }, 'queue: DSN dropped: the sender is an unknown local address');
    }
    this.stats.notices += 1;
    this.#logger.info({ queueId: m.id, to: m.sender, actions: recipients.map((x) => `${x.address}:${x.action}`) }, 'queue: DSN sent');
    this.events.emit('notice', m.id, recipients);
  }

  // ---- waiting and stopping ----

  #settled(): void {
    this.events.emit('settled');
  }

  #busy(): boolean {
    return this.#passing || this.#active > 0 || this.#finalizing.size > 0 || this.#backlog > 0;
  }

  async idle(): Promise<void> {
    for (;;) {
      if (!this.#busy()) {
        const next = await this.#store.queue.nextDue();
        if (!this.#busy() && (next === null || next > this.#clock.now())) return;
        if (!this.#busy()) this.kick();
      }
      await once(this.events, 'settled');
    }
  }

  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#timer) clearTimeout(this.#timer);
    while (this.#passing) await once(this.events, 'settled');
    // Jobs not started go back to the queue (their lease is released or finished with the rest).
    for (const q of this.#queues.values()) {
      for (const job of q.splice(0)) {
        this.#backlog -= job.recipients.length;
        this.#jobDone(job.lease);
      }
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        for (const s of this.#sessions) s.close();
        resolve();
      }, timeoutMs);
    });
    await Promise.race([Promise.all([...this.#runners]), timedOut]);
    await Promise.all([...this.#runners]);
    clearTimeout(timer);
    await Promise.all([...this.#finalizing]);
  }
}

/** Start the outbound queue worker; it looks at the queue at once. */
export async function startQueueWorker(deps: QueueWorkerDeps): Promise<QueueWorker> {
  const worker = new Worker(deps);
  worker.kick();
  return worker;
}
