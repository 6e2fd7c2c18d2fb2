// One POP3 session's state machine (RFC 1939 §3): AUTHORIZATION → TRANSACTION → UPDATE, with CAPA
// (RFC 2449), STLS (RFC 2595 §4) and AUTH PLAIN (RFC 5034). No sockets here: the listener feeds
// lines in order and gives a SessionOutput whose write() resolves when the socket drains.
//
// Invariants:
// - The maildrop is the INBOX, snapshotted at login: message numbers and sizes are fixed for the
//   session (RFC 1939 §4), whatever IMAP sessions do meanwhile.
// - UIDL is "<uidValidity>.<uid>" of the INBOX message: unique, never reused, and the same in every
//   session and across restarts (RFC 1939 §7 "unique-id listing"). It changes only if the INBOX
//   itself is re-created (new UIDVALIDITY), and then every message is new anyway.
// - STAT/LIST sizes are the stored octet counts. Mail arrives over SMTP with CRLF lines, so that is
//   the size RFC 1939 §11 asks for (line ends counted as CRLF, dot-stuffing not counted). A message
//   stored with LF-only lines (an import, a careless APPEND) is sent with CRLF and so comes out
//   larger than listed. TODO(#9): exact sizes need the CRLF-normalised size from the store.
// - Nothing changes in the store before QUIT in TRANSACTION (the UPDATE state): DELE only marks;
//   QUIT expunges the marked UIDs through the store, so IMAP sessions see ordinary expunges on the
//   change feed. A session that ends any other way (dropped connection, timeout, shutdown) deletes
//   nothing. At QUIT, retrieved messages also get \Seen.
// - One session per account (MaildropLocks); the lock is released however the session ends.
// - Passwords (USER/PASS, AUTH) only over TLS unless config.auth.allow_plaintext.
import type { Account, Store } from '../store/store.js';
import type { Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { decodePlain } from '../auth/sasl.js';
import { BLOB_CHUNK_BYTES, META_BATCH } from './limits.js';
import type { MaildropLocks } from './locks.js';
import {
  DotStuffer,
  continuationLine,
  errLine,
  multiLine,
  okLine,
  parseCommand,
  type LineEvent,
  type Pop3Command,
  type Pop3Keyword,
} from './wire.js';

/** What the session needs of the shared Authenticator (src/auth/authenticator.ts). */
export interface Pop3Authenticator {
  authenticate(input: {
    username: string;
    password: string;
    remoteAddress: string;
    protocol: 'pop3';
  }): Promise<{ ok: true; account: Account } | { ok: false; reason: 'invalid' | 'locked'; retryAfterSeconds?: number }>;
}

/** What SessionOutput.write rejects with once the client is gone. */
export class ConnectionClosed extends Error {
  override name = 'ConnectionClosed';
}

export interface SessionOutput {
  /** Queue bytes for the client; resolves once the socket can take more (awaits 'drain').
   * Rejects with ConnectionClosed when the connection is gone. */
  write(data: Buffer): Promise<void>;
}

/** What the listener does after a command: keep reading, upgrade to TLS (STLS), or hang up. */
export type Outcome = 'continue' | 'starttls' | 'close';

export interface SessionOptions {
  store: Store;
  authenticator: Pop3Authenticator;
  locks: MaildropLocks;
  logger: Logger;
  remoteAddress: string;
  /** The connection is TLS (995, or after STLS). */
  secure: boolean;
  /** STLS can be offered (plain listener with a TLS provider). */
  tlsAvailable: boolean;
  allowPlaintext: boolean;
  maxBadCommands: number;
  maxCommandsBeforeLogin: number;
}

type State = 'authorization' | 'transaction' | 'update';

/** RFC 1939 §4-6 and RFC 2449/2595/5034: where each command is legal. */
const LEGAL: Record<Pop3Keyword, readonly State[]> = {
  USER: ['authorization'],
  PASS: ['authorization'],
  APOP: ['authorization'],
  AUTH: ['authorization'],
  STLS: ['authorization'],
  CAPA: ['authorization', 'transaction'],
  QUIT: ['authorization', 'transaction'],
  STAT: ['transaction'],
  LIST: ['transaction'],
  UIDL: ['transaction'],
  RETR: ['transaction'],
  DELE: ['transaction'],
  TOP: ['transaction'],
  NOOP: ['transaction'],
  RSET: ['transaction'],
};

interface DropMessage {
  uid: number;
  size: number;
  blobHash: string;
  deleted: boolean;
  retrieved: boolean;
}

interface Maildrop {
  accountId: number;
  mailboxId: number;
  uidValidity: number;
  messages: DropMessage[];
}

/** A RETR/TOP that fails after its +OK cannot be answered with -ERR: the connection must end. */
class BrokenResponse extends Error {
  override name = 'BrokenResponse';
}

export class Pop3Session {
  #o: SessionOptions;
  #secure: boolean;
  #state: State = 'authorization';
  #pendingUser: string | null = null;
  #saslPending = false;
  #drop: Maildrop | null = null;
  #releaseLock: (() => void) | null = null;
  #badCommands = 0;
  #commandsBeforeLogin = 0;
  /** The connection is gone (close() ran): nothing may take the maildrop lock any more. */
  #closed = false;

  constructor(options: SessionOptions) {
    this.#o = options;
    this.#secure = options.secure;
  }

  get state(): State {
    return this.#state;
  }

  /** RFC 1939 §4: the greeting. */
  greeting(): Buffer {
    return okLine('Pigeon POP3 server ready');
  }

  /** The listener finished the STLS handshake (RFC 2595 §4). */
  tlsStarted(): void {
    this.#secure = true;
    this.#pendingUser = null;
  }

  /** The connection ended without QUIT: release the maildrop, delete nothing (RFC 1939 §6). */
  close(): void {
    this.#closed = true;
    this.#state = 'update';
    this.#releaseLock?.();
    this.#releaseLock = null;
    this.#drop = null;
  }

  get #passwordsAllowed(): boolean {
    return this.#secure || this.#o.allowPlaintext;
  }

  async handleLine(event: LineEvent, out: SessionOutput): Promise<Outcome> {
    if (this.#state === 'update') return 'close';
    if (this.#saslPending) return this.#saslResponse(event, out);
    if (event.kind === 'too-long') return this.#bad('command line too long', out);
    if (this.#state === 'authorization' && ++this.#commandsBeforeLogin > this.#o.maxCommandsBeforeLogin) {
      await out.write(errLine('too many commands before login; closing', 'SYS/PERM'));
      this.close();
      return 'close';
    }
    const command = parseCommand(event.line);
    if (command.kind === 'bad') return this.#bad(command.reason, out);
    if (!LEGAL[command.kind].includes(this.#state)) {
      return this.#bad(`${command.kind} is not valid ${this.#state === 'authorization' ? 'before login' : 'after login'}`, out);
    }
    try {
      return await this.#run(command, out);
    } catch (err) {
      if (err instanceof ConnectionClosed) throw err;
      if (err instanceof BrokenResponse) {
        this.#o.logger.warn({ err: errorMessage(err), remoteAddress: this.#o.remoteAddress }, 'pop3 response broken off');
        this.close();
        return 'close';
      }
      // RFC 3206: SYS/TEMP for a problem on our side; the details go to the log only.
      this.#o.logger.error({ err, command: command.kind }, 'pop3 command failed');
      await out.write(errLine('internal server error; try again later', 'SYS/TEMP'));
      return 'continue';
    }
  }

  async #bad(reason: string, out: SessionOutput): Promise<Outcome> {
    this.#badCommands++;
    if (this.#badCommands >= this.#o.maxBadCommands) {
      await out.write(errLine(`${reason}; too many bad commands, closing`));
      this.close();
      return 'close';
    }
    await out.write(errLine(reason));
    return 'continue';
  }

  async #run(command: Pop3Command, out: SessionOutput): Promise<Outcome> {
    switch (command.kind) {
      case 'CAPA':
        await out.write(multiLine('Capability list follows', this.#capabilities()));
        return 'continue';
      case 'STLS':
        // RFC 2595 §4: STLS only before login and only once.
        if (this.#secure) return this.#reply(out, errLine('already using TLS'));
        if (!this.#o.tlsAvailable) return this.#reply(out, errLine('TLS is not available'));
        await out.write(okLine('Begin TLS negotiation'));
        return 'starttls';
      case 'QUIT':
        return this.#quit(out);
      case 'APOP':
        return this.#reply(out, errLine('APOP is not supported; use USER/PASS or AUTH PLAIN over TLS'));
      case 'USER':
        if (!this.#passwordsAllowed) return this.#reply(out, this.#tlsFirst());
        this.#pendingUser = command.name;
        // RFC 1939 §7: do not reveal whether the mailbox exists.
        return this.#reply(out, okLine('send PASS'));
      case 'PASS': {
        if (!this.#passwordsAllowed) return this.#reply(out, this.#tlsFirst());
        const user = this.#pendingUser;
        this.#pendingUser = null;
        if (user === null) return this.#bad('send USER first', out);
        return this.#reply(out, await this.#login(user, command.password));
      }
      case 'AUTH':
        return this.#auth(command, out);
      case 'STAT': {
        const { count, octets } = this.#totals();
        return this.#reply(out, okLine(`${count} ${octets}`));
      }
      case 'LIST':
      case 'UIDL':
        return this.#listing(command.kind, command.message, out);
      case 'RETR':
      case 'TOP': {
        const found = this.#message(command.message);
        if (typeof found === 'string') return this.#reply(out, errLine(found));
        await this.#send(command.message, found, command.kind === 'TOP' ? command.lines : undefined, out);
        return 'continue';
      }
      case 'DELE': {
        const found = this.#message(command.message);
        if (typeof found === 'string') return this.#reply(out, errLine(found));
        found.deleted = true;
        return this.#reply(out, okLine(`message ${command.message} deleted`));
      }
      case 'NOOP':
        return this.#reply(out, okLine());
      case 'RSET': {
        for (const m of this.#drop!.messages) m.deleted = false;
        const { count, octets } = this.#totals();
        return this.#reply(out, okLine(`maildrop has ${count} messages (${octets} octets)`));
      }
    }
  }

  async #reply(out: SessionOutput, line: Buffer): Promise<Outcome> {
    await out.write(line);
    return 'continue';
  }

  #tlsFirst(): Buffer {
    return errLine('STLS first: passwords are only accepted over TLS', 'SYS/PERM');
  }

  /** RFC 2449 §5-6; USER and SASL only where a password may be sent, STLS only before TLS. */
  #capabilities(): string[] {
    const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
    if (this.#state === 'authorization') {
      if (this.#passwordsAllowed) caps.push('USER', 'SASL PLAIN');
      if (!this.#secure && this.#o.tlsAvailable) caps.push('STLS');
    }
    caps.push('IMPLEMENTATION Pigeon');
    return caps;
  }

  // ---- AUTHORIZATION ----

  /** RFC 5034 §4: AUTH PLAIN with an initial response ("=" = empty) or after a "+ " challenge. */
  async #auth(command: Extract<Pop3Command, { kind: 'AUTH' }>, out: SessionOutput): Promise<Outcome> {
    if (command.mechanism === null) {
      // Not in RFC 5034, but clients (Outlook) send a bare AUTH to list mechanisms.
      return this.#reply(out, multiLine('SASL mechanisms follow', this.#passwordsAllowed ? ['PLAIN'] : []));
    }
    if (!this.#passwordsAllowed) return this.#reply(out, this.#tlsFirst());
    if (command.mechanism !== 'PLAIN') return this.#reply(out, errLine(`SASL mechanism ${command.mechanism.slice(0, 20)} is not supported; use PLAIN`));
    if (command.initialResponse === null) {
      this.#saslPending = true;
      return this.#reply(out, continuationLine());
    }
    return this.#reply(out, await this.#plain(command.initialResponse));
  }

  async #saslResponse(event: LineEvent, out: SessionOutput): Promise<Outcome> {
    this.#saslPending = false;
    if (event.kind === 'too-long') return this.#bad('SASL response too long', out);
    const text = event.line.toString('latin1');
    // RFC 5034 §4: "*" cancels the exchange.
    if (text === '*') return this.#reply(out, errLine('authentication cancelled'));
    return this.#reply(out, await this.#plain(text));
  }

  async #plain(base64: string): Promise<Buffer> {
    // RFC 4616 §2; decodePlain also refuses an authzid other than the user (no acting as another).
    const decoded = decodePlain(base64);
    if (decoded === null) return errLine('malformed AUTH PLAIN response (RFC 4616)', 'AUTH');
    return this.#login(decoded.authcid, decoded.password);
  }

  async #login(username: string, password: string): Promise<Buffer> {
    const { authenticator, locks, logger, remoteAddress } = this.#o;
    const result = await authenticator.authenticate({ username, password, remoteAddress, protocol: 'pop3' });
    if (this.#closed) throw new ConnectionClosed('connection closed during login');
    if (!result.ok) {
      if (result.reason === 'locked') {
        const minutes = Math.max(1, Math.ceil((result.retryAfterSeconds ?? 60) / 60));
        return errLine(`too many failed logins; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`, 'SYS/TEMP');
      }
      return errLine('invalid user name or password (log in with your full email address)', 'AUTH');
    }
    const account = result.account;
    const release = locks.tryAcquire(account.id);
    if (!release) {
      return errLine('another POP3 session of this account is open; try again when it ends', 'IN-USE');
    }
    try {
      this.#drop = await this.#snapshot(account.id);
    } catch (err) {
      release();
      logger.error({ err, accountId: account.id }, 'pop3 cannot open maildrop');
      return errLine('cannot open the maildrop; try again later', 'SYS/TEMP');
    }
    if (this.#closed) {
      release();
      throw new ConnectionClosed('connection closed during login');
    }
    this.#releaseLock = release;
    this.#state = 'transaction';
    logger.info({ accountId: account.id, remoteAddress, messages: this.#drop.messages.length }, 'pop3 login');
    const { count, octets } = this.#totals();
    return okLine(`maildrop locked and ready: ${count} messages (${octets} octets)`);
  }

  /** RFC 1939 §4: the maildrop as it is at login; numbers 1..n in UID order. */
  async #snapshot(accountId: number): Promise<Maildrop> {
    const { store } = this.#o;
    const inbox = await store.getMailbox(accountId, 'INBOX');
    if (!inbox) throw new Error('account has no INBOX');
    const states = await store.listMessageStates(inbox.id);
    const meta = new Map<number, { size: number; blobHash: string }>();
    for (let i = 0; i < states.length; i += META_BATCH) {
      const batch = states.slice(i, i + META_BATCH).map((s) => s.uid);
      for (const m of await store.getMessageMeta(inbox.id, batch)) meta.set(m.uid, { size: m.size, blobHash: m.blobHash });
    }
    const messages: DropMessage[] = [];
    for (const s of states) {
      const m = meta.get(s.uid);
      // Expunged between the two reads: not part of the snapshot.
      if (m) messages.push({ uid: s.uid, size: m.size, blobHash: m.blobHash, deleted: false, retrieved: false });
    }
    return { accountId, mailboxId: inbox.id, uidValidity: inbox.uidValidity, messages };
  }

  // ---- TRANSACTION ----

  #totals(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const m of this.#drop?.messages ?? []) {
      if (m.deleted) continue;
      count++;
      octets += m.size;
    }
    return { count, octets };
  }

  /** RFC 1939 §5: a message number names a message not marked deleted, or it is an error. */
  #message(n: number): DropMessage | string {
    const m = n >= 1 ? this.#drop!.messages[n - 1] : undefined;
    if (!m) return `no such message: ${n}`;
    if (m.deleted) return `message ${n} is deleted`;
    return m;
  }

  #uidl(m: DropMessage): string {
    return `${this.#drop!.uidValidity}.${m.uid}`;
  }

  /** RFC 1939 §5 LIST (scan listing) and §7 UIDL (unique-id listing). */
  async #listing(kind: 'LIST' | 'UIDL', n: number | null, out: SessionOutput): Promise<Outcome> {
    const value = (m: DropMessage): string => (kind === 'LIST' ? String(m.size) : this.#uidl(m));
    if (n !== null) {
      const found = this.#message(n);
      return this.#reply(out, typeof found === 'string' ? errLine(found) : okLine(`${n} ${value(found)}`));
    }
    const lines: string[] = [];
    this.#drop!.messages.forEach((m, i) => {
      if (!m.deleted) lines.push(`${i + 1} ${value(m)}`);
    });
    const { count, octets } = this.#totals();
    return this.#reply(out, multiLine(kind === 'LIST' ? `${count} messages (${octets} octets)` : 'unique-id listing follows', lines));
  }

  /**
   * RFC 1939 §5 RETR / §7 TOP: stream the message from the blob store in ranges, dot-stuffed, one
   * chunk in memory at a time and each write awaited (socket backpressure).
   */
  async #send(n: number, m: DropMessage, bodyLines: number | undefined, out: SessionOutput): Promise<void> {
    const { store } = this.#o;
    const read = (start: number): Promise<Buffer> => store.readBlob(m.blobHash, { start, end: Math.min(start + BLOB_CHUNK_BYTES, m.size) });
    let chunk: Buffer;
    try {
      chunk = m.size === 0 ? Buffer.alloc(0) : await read(0);
    } catch (err) {
      this.#o.logger.error({ err, uid: m.uid }, 'pop3 cannot read message');
      await out.write(errLine(`message ${n} cannot be read now; try again later`, 'SYS/TEMP'));
      return;
    }
    await out.write(okLine(bodyLines === undefined ? `${m.size} octets` : 'top of message follows'));
    const stuffer = new DotStuffer(bodyLines === undefined ? {} : { bodyLines });
    let offset = 0;
    for (;;) {
      const bytes = stuffer.transform(chunk);
      if (bytes.length > 0) await out.write(bytes);
      offset += chunk.length;
      if (stuffer.done || chunk.length === 0 || offset >= m.size) break;
      try {
        chunk = await read(offset);
      } catch (err) {
        throw new BrokenResponse(`message uid ${m.uid} unreadable at offset ${offset}: ${errorMessage(err)}`);
      }
    }
    await out.write(stuffer.end());
    if (bodyLines === undefined) m.retrieved = true;
  }

  /** RFC 1939 §6: QUIT from TRANSACTION enters UPDATE and removes the marked messages. */
  async #quit(out: SessionOutput): Promise<Outcome> {
    const drop = this.#drop;
    if (this.#state !== 'transaction' || !drop) {
      this.close();
      await out.write(okLine('Pigeon POP3 server signing off'));
      return 'close';
    }
    this.#state = 'update';
    const { store, logger } = this.#o;
    const deleted = drop.messages.filter((m) => m.deleted).map((m) => m.uid);
    const seen = drop.messages.filter((m) => m.retrieved && !m.deleted).map((m) => m.uid);
    let reply: Buffer;
    try {
      if (deleted.length > 0) await store.expunge(drop.mailboxId, deleted);
      reply = okLine(`Pigeon POP3 server signing off (${deleted.length} message${deleted.length === 1 ? '' : 's'} deleted)`);
    } catch (err) {
      logger.error({ err, accountId: drop.accountId }, 'pop3 expunge at QUIT failed');
      reply = errLine('some deleted messages were not removed; try again later', 'SYS/TEMP');
    }
    if (seen.length > 0) {
      try {
        await store.storeFlags(drop.mailboxId, seen, { mode: 'add', flags: ['\\Seen'] });
      } catch (err) {
        logger.warn({ err, accountId: drop.accountId }, 'pop3 could not mark retrieved messages seen');
      }
    }
    this.close();
    await out.write(reply);
    return 'close';
  }
}
