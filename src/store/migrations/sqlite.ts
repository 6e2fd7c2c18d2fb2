// SQLite schema migrations, in order. Each runs once, in its own transaction, and is recorded in
// `schema_migrations`. Never edit a released migration: add the next one. The SQL is embedded here
// (not read from .sql files) so the compiled dist/ needs nothing beside it.
//
// The schema is relational and meant to be readable by an operator with the sqlite3 shell:
// - flags are one space-separated text column (`\Seen $Label`), never containing `\Recent`;
// - subscriptions are their own table (names may exist without a mailbox, RFC 9051 §6.3.7), and a
//   mailbox's "subscribed" is derived from it, so there is one source of truth;
// - blobs are content-addressed (SHA-256 hex) with a reference count, their bytes in 256 KiB
//   chunks (see sqlite/blobs.ts for why they live in the database);
// - per-mailbox counters (message_count, total_size, unseen_count) and accounts.used_bytes are kept
//   in the same transactions that change messages; `pigeon check` recomputes and compares them.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE domains (
  id                 INTEGER PRIMARY KEY,
  name               TEXT NOT NULL UNIQUE,
  created_at         INTEGER NOT NULL,
  push_enabled       INTEGER NOT NULL DEFAULT 0,
  push_details       INTEGER NOT NULL DEFAULT 0,
  push_allowed_hosts TEXT NOT NULL DEFAULT '[]',
  enforce_sender     INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE accounts (
  id                INTEGER PRIMARY KEY,
  email             TEXT NOT NULL,
  -- lower-cased email: lookups are case-insensitive on the whole address
  email_key         TEXT NOT NULL UNIQUE,
  domain_id         INTEGER NOT NULL REFERENCES domains(id),
  password_hash     TEXT NOT NULL,
  quota             INTEGER NOT NULL DEFAULT 0,
  used_bytes        INTEGER NOT NULL DEFAULT 0,
  is_admin          INTEGER NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,
  -- highest UIDVALIDITY ever given to one of this account's mailboxes
  last_uid_validity INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX accounts_domain ON accounts(domain_id);

CREATE TABLE aliases (
  id         INTEGER PRIMARY KEY,
  -- lower-cased; "@domain" is the domain's catch-all
  address    TEXT NOT NULL UNIQUE,
  domain     TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX aliases_domain ON aliases(domain);

CREATE TABLE alias_targets (
  alias_id INTEGER NOT NULL REFERENCES aliases(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  target   TEXT NOT NULL,
  PRIMARY KEY (alias_id, position)
);

CREATE TABLE networks (
  id         INTEGER PRIMARY KEY,
  cidr       TEXT NOT NULL UNIQUE,
  note       TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
);

CREATE TABLE mailboxes (
  id             INTEGER PRIMARY KEY,
  account_id     INTEGER NOT NULL REFERENCES accounts(id),
  name           TEXT NOT NULL,
  uid_validity   INTEGER NOT NULL,
  uid_next       INTEGER NOT NULL DEFAULT 1,
  highest_modseq INTEGER NOT NULL DEFAULT 1,
  special_use    TEXT,
  created_at     INTEGER NOT NULL,
  -- RFC 3501 \\Recent: UIDs above this have not been claimed by a session yet
  recent_uid     INTEGER NOT NULL DEFAULT 0,
  message_count  INTEGER NOT NULL DEFAULT 0,
  total_size     INTEGER NOT NULL DEFAULT 0,
  unseen_count   INTEGER NOT NULL DEFAULT 0,
  UNIQUE (account_id, name)
);

CREATE TABLE subscriptions (
  account_id INTEGER NOT NULL REFERENCES accounts(id),
  name       TEXT NOT NULL,
  PRIMARY KEY (account_id, name)
);

-- Keyword spellings seen in a mailbox: a keyword is compared case-insensitively and keeps the
-- first spelling (RFC 9051 §2.3.2); also the mailbox's FLAGS list.
CREATE TABLE mailbox_keywords (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
  keyword    TEXT NOT NULL COLLATE NOCASE,
  PRIMARY KEY (mailbox_id, keyword)
);

CREATE TABLE blobs (
  hash       TEXT PRIMARY KEY,
  size       INTEGER NOT NULL,
  refcount   INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE blob_chunks (
  id   INTEGER PRIMARY KEY,
  hash TEXT NOT NULL REFERENCES blobs(hash),
  seq  INTEGER NOT NULL,
  data BLOB NOT NULL,
  UNIQUE (hash, seq)
);

CREATE TABLE messages (
  id            INTEGER PRIMARY KEY,
  mailbox_id    INTEGER NOT NULL REFERENCES mailboxes(id),
  uid           INTEGER NOT NULL,
  modseq        INTEGER NOT NULL,
  flags         TEXT NOT NULL DEFAULT '',
  internal_date INTEGER NOT NULL,
  save_date     INTEGER NOT NULL,
  size          INTEGER NOT NULL,
  blob_hash     TEXT NOT NULL REFERENCES blobs(hash),
  email_id      TEXT NOT NULL,
  thread_id     TEXT NOT NULL,
  index_json    TEXT NOT NULL,
  UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob_hash);

CREATE TABLE tombstones (
  mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id),
  uid        INTEGER NOT NULL,
  modseq     INTEGER NOT NULL,
  PRIMARY KEY (mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX tombstones_modseq ON tombstones(mailbox_id, modseq);

CREATE TABLE queue_messages (
  id         INTEGER PRIMARY KEY,
  sender     TEXT NOT NULL,
  blob_hash  TEXT NOT NULL REFERENCES blobs(hash),
  size       INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  dsn_ret    TEXT CHECK (dsn_ret IN ('FULL', 'HDRS')),
  dsn_envid  TEXT,
  account_id INTEGER REFERENCES accounts(id) ON DELETE SET NULL
);

CREATE TABLE queue_recipients (
  id              INTEGER PRIMARY KEY,
  message_id      INTEGER NOT NULL REFERENCES queue_messages(id) ON DELETE CASCADE,
  address         TEXT NOT NULL,
  -- NOTIFY values, comma-separated, upper-case; '' = default
  notify          TEXT NOT NULL DEFAULT '',
  orcpt           TEXT,
  state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'delivered', 'deferred', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error      TEXT
);
CREATE INDEX queue_recipients_message ON queue_recipients(message_id);
CREATE INDEX queue_recipients_due ON queue_recipients(state, next_attempt_at);
`,
  },
  {
    version: 2,
    name: 'push',
    sql: `
-- Push integration (PUSH.md): subscriptions of relays and Web Push endpoints, one per
-- (account, device); ended with the account.
CREATE TABLE push_subscriptions (
  id                TEXT PRIMARY KEY,
  account_id        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  device_id         TEXT NOT NULL,
  device_name       TEXT NOT NULL,
  callback_url      TEXT NOT NULL,
  relay_host        TEXT NOT NULL,
  -- Web Push keys (RFC 8291), both NULL for a plain webhook
  p256dh            TEXT,
  auth_secret       TEXT,
  -- JSON list of mailbox names
  mailboxes         TEXT NOT NULL,
  state             TEXT NOT NULL CHECK (state IN ('pending', 'active', 'suspended')),
  -- HMAC key of the Pigeon-Signature header
  secret            TEXT NOT NULL,
  -- SHA-256 (hex) of the verification code; NULL once active
  code_hash         TEXT,
  failed_codes      INTEGER NOT NULL DEFAULT 0,
  -- fingerprint of the credential (password hash) the subscription was made with
  credential_fp     TEXT NOT NULL,
  remote_address    TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  activated_at      INTEGER,
  expires_at        INTEGER NOT NULL,
  last_notified_at  INTEGER,
  last_error        TEXT,
  -- start of the current run of failed deliveries (NULL after a success)
  failing_since     INTEGER,
  UNIQUE (account_id, device_id)
);
CREATE INDEX push_subscriptions_state ON push_subscriptions(state, expires_at);

-- What each subscription was last told about a mailbox: a change feed seen by several nodes
-- enqueues one notification, and newMessages are the UIDs at or above uid_next.
CREATE TABLE push_mailbox_state (
  subscription_id TEXT NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
  mailbox_id      INTEGER NOT NULL,
  notified_modseq INTEGER NOT NULL,
  uid_next        INTEGER NOT NULL,
  PRIMARY KEY (subscription_id, mailbox_id)
) WITHOUT ROWID;

-- The outbox: verifications and notifications, leased by one node at a time.
CREATE TABLE push_outbox (
  id              INTEGER PRIMARY KEY,
  subscription_id TEXT NOT NULL REFERENCES push_subscriptions(id) ON DELETE CASCADE,
  kind            TEXT NOT NULL CHECK (kind IN ('verification', 'notification')),
  -- 0 for a verification
  mailbox_id      INTEGER NOT NULL DEFAULT 0,
  payload         TEXT NOT NULL,
  urgency         TEXT NOT NULL DEFAULT 'normal',
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_until     INTEGER,
  lease_token     TEXT,
  created_at      INTEGER NOT NULL,
  last_error      TEXT
);
CREATE INDEX push_outbox_due ON push_outbox(next_attempt_at);
CREATE INDEX push_outbox_subscription ON push_outbox(subscription_id, mailbox_id);

-- Server-wide push settings (VAPID key pair, the admin's on/off switch).
CREATE TABLE push_settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
`,
  },
  {
    version: 3,
    name: 'admin console',
    sql: `
-- What an admin account may administer: 'server' (everything) or 'domain' (its own domain only).
-- Only meaningful when is_admin = 1. Admins made before this migration administered everything.
ALTER TABLE accounts ADD COLUMN admin_scope TEXT NOT NULL DEFAULT 'server' CHECK (admin_scope IN ('domain', 'server'));

-- Signed-in console/API sessions (http/session.ts). Only the SHA-256 of the cookie token is kept.
CREATE TABLE admin_sessions (
  token_hash     TEXT PRIMARY KEY,
  account_id     INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at     INTEGER NOT NULL,
  last_seen_at   INTEGER NOT NULL,
  expires_at     INTEGER NOT NULL,
  remote_address TEXT NOT NULL,
  user_agent     TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX admin_sessions_account ON admin_sessions(account_id);
CREATE INDEX admin_sessions_expiry ON admin_sessions(expires_at);
`,
  },
  {
    version: 4,
    name: 'outbound queue',
    sql: `
-- The queue worker (queue/worker.ts) leases recipients so two nodes never deliver the same one:
-- lease_until/lease_token are set in the transaction that picks due rows (SQLite: BEGIN IMMEDIATE;
-- PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED) and cleared when the attempt is recorded.
ALTER TABLE queue_recipients ADD COLUMN lease_until INTEGER;
ALTER TABLE queue_recipients ADD COLUMN lease_token TEXT;
-- A delivery status notification still to send for this recipient ('delivered', 'relayed',
-- 'delayed', 'failed'); cleared once the DSN is delivered or queued (RFC 3464).
ALTER TABLE queue_recipients ADD COLUMN dsn_pending TEXT CHECK (dsn_pending IN ('delivered', 'relayed', 'delayed', 'failed'));
-- The delay notice is sent once.
ALTER TABLE queue_recipients ADD COLUMN delay_notified INTEGER NOT NULL DEFAULT 0;
-- Enhanced status code (RFC 3463) and the remote host of the last attempt, for DSNs and the console.
ALTER TABLE queue_recipients ADD COLUMN status_code TEXT;
ALTER TABLE queue_recipients ADD COLUMN remote_mta TEXT;
CREATE INDEX queue_recipients_pending ON queue_recipients(dsn_pending) WHERE dsn_pending IS NOT NULL;

-- DKIM signing keys (RFC 6376), one per domain; the public half is what the DNS TXT record holds.
CREATE TABLE dkim_keys (
  domain      TEXT PRIMARY KEY,
  selector    TEXT NOT NULL,
  private_key TEXT NOT NULL,
  public_key  TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);

-- File messages submitted by this account into its \\Sent mailbox (server-side Sent copy).
ALTER TABLE accounts ADD COLUMN sent_copy INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 5,
    name: 'urlauth keys',
    sql: `
-- URLAUTH mailbox access keys (RFC 4467 §3), one per mailbox and UIDVALIDITY: a key made for an
-- older mailbox of the same id (or UIDVALIDITY) is replaced on first use, so no foreign key is
-- needed and deleting a mailbox needs no extra step. RESETKEY deletes rows.
CREATE TABLE urlauth_keys (
  mailbox_id   INTEGER PRIMARY KEY,
  account_id   INTEGER NOT NULL,
  uid_validity INTEGER NOT NULL,
  key          BLOB NOT NULL
);
CREATE INDEX urlauth_keys_account ON urlauth_keys(account_id);
`,
  },
  {
    version: 6,
    name: 'message states covering index',
    sql: `
-- A session's view on SELECT (and a QRESYNC reconnect, RFC 7162 §3.2.5) reads every message's
-- (uid, modseq, flags) in UID order: from this index alone, without touching the wide rows.
CREATE INDEX messages_state ON messages(mailbox_id, uid, modseq, flags);
`,
  },
  {
    version: 7,
    name: 'metadata',
    sql: `
-- IMAP METADATA entries (RFC 5464): per account, for the server (mailbox_id 0) or one mailbox.
-- Rows carry the mailbox's UIDVALIDITY: a row of a deleted mailbox never shows through a later
-- mailbox with the same id, so no foreign key is needed. Names are lower-case ("/private/comment").
CREATE TABLE metadata (
  account_id   INTEGER NOT NULL,
  mailbox_id   INTEGER NOT NULL,
  uid_validity INTEGER NOT NULL,
  name         TEXT NOT NULL,
  value        BLOB NOT NULL,
  PRIMARY KEY (account_id, mailbox_id, name)
);
`,
  },
  {
    version: 8,
    name: 'queue dkim sign',
    sql: `
-- Whether the queue worker DKIM-signs the message with its From domain's key (queue/worker.ts),
-- decided when it is queued: 1 for mail we originate (authenticated submission, clients in My
-- Networks, our own DSNs), 0 for mail passing through (alias forwarding of mail from outside).
-- Rows queued before keep the earlier rule: signed when submitted by an account or a DSN.
ALTER TABLE queue_messages ADD COLUMN dkim_sign INTEGER NOT NULL DEFAULT 0 CHECK (dkim_sign IN (0, 1));
UPDATE queue_messages SET dkim_sign = 1 WHERE account_id IS NOT NULL OR sender = '';
`,
  },
  {
    version: 9,
    name: 'unseen messages index',
    sql: `
-- SELECT's first unseen message (RFC 3501 §7.1 UNSEEN) without scanning the mailbox: the unseen
-- messages in UID order. The store's query repeats this WHERE expression exactly, so the planner
-- can use the index.
CREATE INDEX messages_unseen ON messages(mailbox_id, uid) WHERE instr(' ' || flags || ' ', ' \\Seen ') = 0;
`,
  },
  {
    version: 10,
    name: 'app passwords',
    sql: `
-- App passwords (auth/app-passwords.ts): generated passwords an account holder gives one mail
-- client instead of the account password, each revocable on its own. Only a scrypt hash is kept;
-- lookup is a short non-secret key derived from the password (unique per account), so a login
-- verifies one hash instead of trying them all. Deleted with the account.
CREATE TABLE app_passwords (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id    INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name          TEXT NOT NULL,
  lookup        TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  created_at    INTEGER NOT NULL,
  last_used_at  INTEGER,
  UNIQUE (account_id, lookup)
);
`,
  },
];
