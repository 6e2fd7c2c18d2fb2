// The SMTP service: MX on 25, submission on 587 (STARTTLS, then AUTH) and 465 (implicit TLS),
// and optional LMTP (RFC 2033) for an MTA in front of Pigeon. Each listener runs only when its
// [listen] address is non-empty.
//
// Why our own session layer and not the `smtp-server` package: it waits a fixed, non-configurable
// 100 ms before every greeting (about 10 messages/s per concurrent client when each message opens
// a new connection — the benchmark target is 600/s with 10 clients), and it has neither
// CHUNKING/BDAT (RFC 3030) nor BURL (RFC 4468, needed by the outbound issue). So, as for IMAP:
// wire/ is a sans-I/O parser (bytes → typed commands, DATA unstuffing, BDAT chunks, bounded) and
// reply formatter; session.ts is the state machine (no sockets); policy/ holds the relay and
// sender rules as pure functions; listener.ts owns sockets and TLS; inbound.ts stamps, checks
// SPF/DKIM/DMARC and hands off to delivery/ or the queue (commit-pacer.ts lines concurrent
// hand-offs up so they share fsyncs); lmtp.ts holds LMTP's per-recipient replies. BURL (RFC 4468) is offered
// on submission when the composition root passes a URLAUTH resolver (IMAP's, RFC 4467).
//
// Invariants: never an open relay (policy/relay.ts); 250 after DATA only once the message is
// durable; no AUTH before TLS unless config.auth.allow_plaintext; nothing outside smtp/ sees a
// session object.
import { connectionObserver, type ServerMetrics } from '../shared/metrics.js';
import type { Config } from '../config/schema.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { TlsProvider } from '../tls/provider.js';
import type { Account, Store } from '../store/store.js';
import type { Logger } from '../shared/logger.js';
import type { RunningService, ListeningOn } from '../shared/service.js';
import { resolveRecipient } from '../delivery/deliver.js';
import { createAcceptor, type DNSResolver } from './inbound.js';
import { DEFAULT_IDLE_TIMEOUT_MS, type SmtpLimits } from './limits.js';
import { startListener, type SmtpListener } from './listener.js';
import { inNetworks, parseNetworks } from './policy/networks.js';
import type { SenderFacts } from './policy/sender.js';
import type { SessionKind, SessionServices } from './session.js';

export interface SmtpServerDeps {
  config: Config;
  store: Store;
  authenticator: Authenticator;
  tls: TlsProvider;
  logger: Logger;
  /** DNS resolver for SPF/DKIM/DMARC (mailauth); default: the system resolver. */
  resolver?: DNSResolver;
  /** Called after mail was put on the outbound queue (wakes the queue worker). */
  onQueued?: () => void;
  /** Idle timeout per connection (RFC 5321 §4.5.3.2.7: at least 5 minutes); tests set it low. */
  idleTimeoutMs?: number;
  /** Pace deliveries so concurrent sessions share fsyncs (commit-pacer.ts); default true. */
  commitPacing?: boolean;
  /** Prometheus metrics: connections per listener kind. */
  metrics?: ServerMetrics;
  /** BURL (RFC 4468): resolve a URLAUTH URL from our IMAP store (the composition root passes
   *  IMAP's resolver); absent, BURL is not offered. */
  fetchUrlauth?: (url: string, account: Account) => Promise<Buffer>;
}

/** Counts messages accepted (a 2xx for at least one recipient) in the metrics, by session kind. */
function counted(accept: ReturnType<typeof createAcceptor>, metrics: ServerMetrics | undefined): ReturnType<typeof createAcceptor> {
  if (!metrics) return accept;
  return async (envelope, message) => {
    const replies = await accept(envelope, message);
    if (replies.some((r) => r.code >= 200 && r.code < 300)) metrics.messagesReceived.inc({ protocol: envelope.kind });
    return replies;
  };
}

const LISTENERS: Array<{ name: 'smtp' | 'submission' | 'submissions' | 'lmtp'; kind: SessionKind; implicitTls: boolean }> = [
  { name: 'smtp', kind: 'mx', implicitTls: false },
  { name: 'submission', kind: 'submission', implicitTls: false },
  { name: 'submissions', kind: 'submissions', implicitTls: true },
  { name: 'lmtp', kind: 'lmtp', implicitTls: false },
];

const isLoopback = (a: string) => a === '::1' || a.startsWith('127.');

/** The session's view of the store, auth and delivery. */
export function createSessionServices(deps: Pick<SmtpServerDeps, 'config' | 'store' | 'authenticator' | 'logger' | 'resolver' | 'onQueued' | 'metrics' | 'fetchUrlauth'>): SessionServices {
  const { store } = deps;
  return {
    async isLocalDomain(domain) {
      if (await store.getDomain(domain)) return true;
      return (await store.listAliases(domain)).length > 0;
    },
    async resolveRecipient(address) {
      const r = await resolveRecipient(store, address);
      return r.kind === 'local' ? { kind: 'local', accounts: r.accounts, remote: r.remote } : r;
    },
    async authenticate({ username, password, remoteAddress }) {
      const r = await deps.authenticator.authenticate({ username, password, remoteAddress, protocol: 'smtp' });
      return r.ok ? { ok: true, account: r.account } : { ok: false, reason: r.reason };
    },
    async senderFacts(account: Account, sender: string | null): Promise<SenderFacts> {
      const accountDomain = account.email.slice(account.email.lastIndexOf('@') + 1).toLowerCase();
      const domain = await store.getDomain(accountDomain);
      const facts: SenderFacts = {
        enforce: domain?.settings.enforceSender ?? true,
        accountEmail: account.email.toLowerCase(),
        sender,
        aliasTargets: null,
        catchAllTargets: null,
        senderIsAnotherAccount: false,
      };
      if (!facts.enforce || sender === null || sender === facts.accountEmail) return facts;
      const other = await store.getAccountByEmail(sender);
      facts.senderIsAnotherAccount = other !== undefined && other.id !== account.id;
      facts.aliasTargets = (await store.getAlias(sender))?.targets ?? null;
      if (facts.aliasTargets === null) facts.catchAllTargets = (await store.getAlias(`@${sender.slice(sender.lastIndexOf('@') + 1)}`))?.targets ?? null;
      return facts;
    },
    ...(deps.fetchUrlauth ? { fetchUrlauth: deps.fetchUrlauth } : {}),
    accept: counted(createAcceptor({ store, hostname: deps.config.hostname, logger: deps.logger, ...(deps.resolver ? { resolver: deps.resolver } : {}), ...(deps.onQueued ? { onQueued: deps.onQueued } : {}) }), deps.metrics),
  };
}

export async function startSmtpServer(deps: SmtpServerDeps): Promise<RunningService> {
  const { config, store } = deps;
  const logger = deps.logger.child({ service: 'smtp' });
  const limits: SmtpLimits = {
    maxMessageSize: config.limits.max_message_size,
    maxLineLength: config.limits.max_line_length,
    maxRecipients: config.limits.max_recipients,
    maxBadCommands: config.limits.max_bad_commands,
    maxCommandsBeforeMail: config.limits.max_commands_before_login,
    maxConnectionsPerAddress: config.limits.max_connections_per_address,
    idleTimeoutMs: deps.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
  };
  const services = createSessionServices({ ...deps, logger });
  const trusted = async (address: string): Promise<boolean> => {
    const { networks, invalid } = parseNetworks((await store.listNetworks()).map((n) => n.cidr));
    if (invalid.length > 0) logger.warn({ invalid }, 'smtp: unusable My Networks entries ignored');
    return inNetworks(address, networks);
  };
  const listeners: SmtpListener[] = [];
  try {
    for (const l of LISTENERS) {
      const address = config.listen[l.name];
      if (!address) continue;
      listeners.push(
        await startListener({
          name: l.name,
          address,
          kind: l.kind,
          implicitTls: l.implicitTls,
          hostname: config.hostname,
          limits,
          allowPlaintextAuth: config.auth.allow_plaintext,
          secureContext: () => deps.tls.secureContext(),
          trusted: l.kind === 'lmtp' ? async (a) => isLoopback(a) || (await trusted(a)) : trusted,
          services,
          logger,
          observer: connectionObserver(deps.metrics, l.kind === 'lmtp' ? 'lmtp' : 'smtp'),
        }),
      );
    }
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close(0)));
    throw err;
  }
  const listening: ListeningOn[] = listeners.map((l) => ({ listener: l.name, host: l.bound.host, port: l.bound.port, security: l.security }));
  return {
    name: 'smtp',
    listening,
    async close(options = {}) {
      await Promise.all(listeners.map((l) => l.close(options.timeoutMs ?? 10_000)));
    },
  };
}
