// The config file schema: the single source of the Config type, the defaults, the validation and
// the commented `pigeon.toml` that `pigeon init` writes. Every setting has a default, so an empty
// file (or none) is a working configuration. Environment variables PIGEON_<SECTION>_<KEY>
// (or PIGEON_<KEY> for top-level keys) override the file.
import { hostname as osHostname } from 'node:os';

type Kind = 'string' | 'integer' | 'boolean' | 'string[]';
type ValueOf<K extends Kind> = K extends 'string' ? string : K extends 'integer' ? number : K extends 'boolean' ? boolean : string[];

export interface Field<K extends Kind = Kind> {
  kind: K;
  default: ValueOf<K> | (() => ValueOf<K>);
  doc: string;
  /** Extra check; returns a problem description or undefined. */
  check?: (value: ValueOf<K>) => string | undefined;
  /** Allowed values for a string. */
  oneOf?: readonly string[];
  min?: number;
  max?: number;
}

function field<K extends Kind>(f: Field<K>): Field<K> {
  return f;
}

const listenAddress = (value: string): string | undefined => {
  if (value === '') return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(value);
  if (!m) return 'must be "addr:port" (e.g. "0.0.0.0:993" or "[::]:993"), or "" to disable';
  const port = Number(m[3]);
  if (port > 65535) return 'port must be 0..65535';
  return undefined;
};

const listen = (port: number | null, what: string): Field<'string'> =>
  field({ kind: 'string', default: port === null ? '' : `0.0.0.0:${port}`, doc: what, check: listenAddress });

const smarthostAddress = (value: string): string | undefined => {
  if (value === '') return undefined;
  return /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value) && Number(value.slice(value.lastIndexOf(':') + 1)) <= 65535
    ? undefined : 'must be "host:port" (e.g. "smtp.example.net:587"), or "" to deliver to MX hosts';
};

const retrySchedule = (value: string): string | undefined =>
  /^\s*\d{1,6}(\s*,\s*\d{1,6}){0,49}\s*$/.test(value) && value.split(',').every((v) => Number(v) > 0) ? undefined : 'must be minutes separated by commas, e.g. "1, 5, 15, 60"';

const KB = 1024;
const MB = 1024 * KB;

export const schema = {
  '': {
    hostname: field({ kind: 'string', default: () => osHostname(), doc: 'Host name of this server: greetings, Received headers, the self-signed certificate.' }),
    data_dir: field({ kind: 'string', default: './data', doc: 'Folder for the SQLite store, certificates and other state.' }),
  },
  listen: {
    smtp: listen(25, 'SMTP for incoming mail (MX): STARTTLS offered, never required.'),
    submission: listen(587, 'Message submission: STARTTLS, then AUTH required.'),
    submissions: listen(465, 'Message submission over implicit TLS, AUTH required.'),
    lmtp: listen(null, 'LMTP (RFC 2033) for an MTA in front of Pigeon; off by default.'),
    imap: listen(143, 'IMAP with STARTTLS.'),
    imaps: listen(993, 'IMAP over implicit TLS.'),
    pop3: listen(110, 'POP3 with STLS.'),
    pop3s: listen(995, 'POP3 over implicit TLS.'),
    http: listen(80, 'HTTP: autoconfiguration; everything else redirects to HTTPS.'),
    https: listen(443, 'HTTPS: admin console, API, push Subscribe URL.'),
  },
  tls: {
    cert: field({ kind: 'string', default: '', doc: 'PEM certificate chain. Empty: a self-signed certificate for hostname is made at first start in data_dir.' }),
    key: field({ kind: 'string', default: '', doc: 'PEM private key matching cert.' }),
    extra_certs: field({ kind: 'string[]', default: [], doc: 'More PEM certificates, chosen by the name a client asks for (SNI), e.g. one per hosted domain.' }),
    extra_keys: field({ kind: 'string[]', default: [], doc: 'The private keys of extra_certs, in the same order.' }),
  },
  store: {
    driver: field({ kind: 'string', default: 'sqlite', oneOf: ['sqlite', 'postgres'], doc: 'Storage engine: "sqlite" (embedded, in data_dir) or "postgres".' }),
    url: field({ kind: 'string', default: '', doc: 'For postgres: a connection URL (postgres://user@host:5432/db). For sqlite: a file path (default data_dir/pigeon.db).' }),
  },
  auth: {
    allow_plaintext: field({ kind: 'boolean', default: false, doc: 'Allow passwords before TLS (IMAP LOGIN on 143, POP3 USER on 110, SMTP AUTH on 25/587 without STARTTLS). Leave off.' }),
    failure_delay_ms: field({ kind: 'integer', default: 1000, min: 0, doc: 'Delay after a failed login, doubled for each further failure from the same address.' }),
    max_failure_delay_ms: field({ kind: 'integer', default: 15000, min: 0, doc: 'Upper bound of the failed-login delay.' }),
    lockout_failures: field({ kind: 'integer', default: 10, min: 1, doc: 'Failed logins (per address, or per account) before a temporary lockout.' }),
    lockout_seconds: field({ kind: 'integer', default: 900, min: 1, doc: 'How long a lockout lasts.' }),
  },
  limits: {
    max_message_size: field({ kind: 'integer', default: 50 * MB, min: 1 * KB, doc: 'Largest message accepted over SMTP or APPEND, in bytes.' }),
    max_line_length: field({ kind: 'integer', default: 64 * KB, min: 1 * KB, doc: 'Longest command line (IMAP, POP3, SMTP), in bytes.' }),
    max_connections_per_address: field({ kind: 'integer', default: 100, min: 1, doc: 'Simultaneous connections from one client address, per protocol.' }),
    max_connections_per_account: field({ kind: 'integer', default: 50, min: 1, doc: 'Simultaneous IMAP connections of one account.' }),
    max_bad_commands: field({ kind: 'integer', default: 20, min: 1, doc: 'Malformed or unknown commands before the connection is closed.' }),
    max_commands_before_login: field({ kind: 'integer', default: 50, min: 1, doc: 'Commands allowed before authentication.' }),
    max_recipients: field({ kind: 'integer', default: 1000, min: 1, doc: 'Recipients per SMTP message.' }),
  },
  imap: {
    idle_keepalive_seconds: field({ kind: 'integer', default: 120, min: 1, doc: 'During IDLE, send "* OK Still here" this often so mobile NATs keep the connection.' }),
    autologout_seconds: field({ kind: 'integer', default: 1800, min: 60, doc: 'Inactivity autologout after login (RFC 9051 §5.4: at least 30 minutes).' }),
    preauth_timeout_seconds: field({ kind: 'integer', default: 60, min: 1, doc: 'Inactivity before login.' }),
  },
  push: {
    enabled: field({ kind: 'boolean', default: true, doc: 'Server-wide switch for push integration (PUSH.md): the Subscribe URL, notifications and Web Push. Domains still opt in one by one.' }),
    coalesce_ms: field({ kind: 'integer', default: 1000, min: 0, max: 60_000, doc: 'Changes of one mailbox within this window become one notification per subscription.' }),
    max_subscriptions_per_account: field({ kind: 'integer', default: 20, min: 1, max: 1000, doc: 'Push subscriptions (devices) one account may have; more is refused with 429.' }),
    pending_ttl_seconds: field({ kind: 'integer', default: 1800, min: 1, doc: 'A subscription not activated within this time is dropped.' }),
    default_lifetime_days: field({ kind: 'integer', default: 30, min: 1, max: 3650, doc: 'Lifetime of a subscription when the relay asks for none; also the longest granted.' }),
    suspend_after_hours: field({ kind: 'integer', default: 24, min: 1, doc: 'A subscription whose notifications fail for this long is suspended.' }),
    subscribe_rate_per_minute: field({ kind: 'integer', default: 10, min: 1, doc: 'SUBSCRIBE requests accepted per client address per minute; more get 429.' }),
    retry_initial_ms: field({ kind: 'integer', default: 1000, min: 0, doc: 'First retry delay of a failed notification; doubled for each further failure (with jitter).' }),
    retry_max_seconds: field({ kind: 'integer', default: 3600, min: 1, doc: 'Longest delay between two attempts of a notification (Retry-After included).' }),
    web_push_ttl_seconds: field({ kind: 'integer', default: 86400, min: 0, max: 2_419_200, doc: 'TTL of Web Push messages (RFC 8030 §5.2): how long the push service keeps an undelivered one.' }),
  },
  queue: {
    smarthost: field({ kind: 'string', default: '', check: smarthostAddress, doc: 'Relay host for all outbound mail, "host:port" (like Postfix relayhost). Empty: deliver straight to each domain\'s MX.' }),
    smarthost_tls: field({ kind: 'string', default: 'starttls', oneOf: ['starttls', 'tls', 'none'], doc: 'TLS to the relay host: "starttls" (required), "tls" (implicit TLS, usually port 465) or "none".' }),
    smarthost_username: field({ kind: 'string', default: '', doc: 'AUTH user name at the relay host (empty: no AUTH).' }),
    smarthost_password: field({ kind: 'string', default: '', doc: 'AUTH password at the relay host. Prefer the PIGEON_QUEUE_SMARTHOST_PASSWORD environment variable.' }),
    smarthost_verify_certificate: field({ kind: 'boolean', default: true, doc: 'Verify the relay host\'s certificate.' }),
    mx_verify_certificate: field({ kind: 'boolean', default: false, doc: 'Verify MX hosts\' certificates (STARTTLS is always used when offered; unverified by default, as most MTAs do).' }),
    max_age_hours: field({ kind: 'integer', default: 120, min: 1, max: 24 * 60, doc: 'Temporary failures are retried for this long, then the message bounces (RFC 5321 §4.5.4.1: 4-5 days).' }),
    delay_notice_hours: field({ kind: 'integer', default: 4, min: 0, doc: 'Send the sender one delay notice (DSN) when a recipient is still undelivered after this long; 0 = never.' }),
    retry_schedule_minutes: field({ kind: 'string', default: '1, 5, 15, 30, 60, 120, 240', check: retrySchedule, doc: 'Delays between attempts, in minutes, comma-separated; the last one repeats until max_age_hours.' }),
    concurrency: field({ kind: 'integer', default: 10, min: 1, max: 1000, doc: 'Outbound SMTP connections at once.' }),
    per_domain_concurrency: field({ kind: 'integer', default: 2, min: 1, max: 100, doc: 'Outbound SMTP connections at once to one destination domain.' }),
    connect_timeout_seconds: field({ kind: 'integer', default: 30, min: 1, max: 600, doc: 'Time to connect and get the greeting of a remote host.' }),
  },
  log: {
    level: field({ kind: 'string', default: 'info', oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], doc: 'Log level.' }),
  },
} as const;

type Schema = typeof schema;
type SectionValues<S> = { -readonly [K in keyof S]: S[K] extends Field<infer K2> ? ValueOf<K2> : never };

/** The validated configuration. Top-level keys sit at the root; every [section] is an object. */
export type Config = SectionValues<Schema['']> & { -readonly [S in Exclude<keyof Schema, ''>]: SectionValues<Schema[S]> };

export type ListenerName = keyof Schema['listen'];
export const listenerNames = Object.keys(schema.listen) as ListenerName[];
