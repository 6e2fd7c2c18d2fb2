// One IMAP session: the connection state machine (RFC 9051 §3), the command loop, the selected
// mailbox's view, and the points where unsolicited updates may be sent.
//
// Invariants:
// - Commands run one at a time, in the order received; a command's untagged output is written
//   before its tagged completion (dispatch.ts).
// - Input is read only while it can be handled: the transport is paused while output waits to
//   drain or while parsed-but-unhandled input exceeds a bound (a client that never reads its
//   FETCH output cannot make the server buffer without bound).
// - Mailbox changes made by anyone arrive as change-feed wake-ups; the view reads the journal. While
//   idling they are written at once (RFC 2177); otherwise at the end of the next command, where
//   RFC 9051 §7.5.1 allows.
// - NOTIFY (RFC 5465, notify.ts): events for other mailboxes are queued (bounded) and written after
//   any command, while idling, and between commands; the selected mailbox's events are pushed
//   between commands too when the client asked for the selected filter. Unsolicited output
//   between commands never interleaves with a command's output (#pump waits for it).
// - Every timer is one per session and refreshed in place (memory per idle connection stays small).
// - UIDONLY (RFC 9586 §3): once enabled, every FETCH response goes out as `* uid UIDFETCH (…)`
//   (every FETCH response of a selected mailbox is written through fetchResponse), and expunges
//   as VANISHED; commands with sequence numbers are refused in dispatch.ts (uidonly.ts).
import type { Config } from '../../config/schema.js';
import type { Account, Mailbox, Store } from '../../store/store.js';
import type { Change } from '../../store/changes.js';
import type { Authenticator } from '../../auth/authenticator.js';
import type { Logger } from '../../shared/logger.js';
import type { ConnectionCounter } from '../../shared/net.js';
import { errorMessage } from '../../shared/errors.js';
import type { FetchAttribute, ImapValue, Response, ResponseCode } from '../wire/types.js';
import { CommandParser } from '../wire/parser.js';
import { encodeResponse } from '../wire/encoder.js';
import { limitsFromConfig, type WireLimits } from '../wire/limits.js';
import { MailboxView, type ViewEvent } from './view.js';
import { capabilities } from './capabilities.js';
import { dispatch } from './dispatch.js';
import { compactUidSet, SYSTEM_FLAGS } from './helpers.js';
import { NotifySpec, type NotifyContext } from './notify.js';
import { needsIndex, needsRaw, rawRange, renderFetchItem } from '../fetch/fetch.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/** The socket side of a session (listener.ts). */
export interface Transport {
  readonly secure: boolean;
  readonly remoteAddress: string;
  /** Whether STARTTLS can be offered on this connection. */
  readonly canStartTls: boolean;
  write(data: Buffer): void;
  /** Bytes written and not yet flushed to the kernel. */
  readonly backlog: number;
  /** Resolves when the write buffer has drained (at once when it is empty or closed). */
  drain(): Promise<void>;
  /** Upgrade to TLS; bytes received before the handshake are dropped. */
  startTls(): Promise<void>;
  /** COMPRESS=DEFLATE (RFC 4978): deflate output and inflate input from now on; `pending` are
   *  bytes already received after the COMPRESS command (compressed data). */
  startCompression?(pending: Buffer): void;
  /** Whether COMPRESS is active. */
  readonly compressed?: boolean;
  pause(): void;
  resume(): void;
  close(): void;
}

export interface SessionDeps {
  config: Config;
  store: Store;
  authenticator: Authenticator;
  logger: Logger;
  /** Per-account connection slots (config.limits.max_connections_per_account). */
  accounts: ConnectionCounter;
}

/** Output above this waits for the socket to drain before more is produced. */
const OUTPUT_HIGH_WATER = 256 * 1024;
/** Unhandled input above this pauses reading. */
const INPUT_HIGH_WATER = 256 * 1024;

/** Unhandled input allowed before login (a literal included): more is answered with BYE. */
const PREAUTH_INPUT_LIMIT = 1024 * 1024;

let nextSessionId = 1;

const limitsCache = new WeakMap<Config, WireLimits>();
/** LITERAL+ is advertised, so non-synchronising literals may be as large as a message (RFC 7888 §3). */
function wireLimits(config: Config): WireLimits {
  let l = limitsCache.get(config);
  if (!l) limitsCache.set(config, (l = limitsFromConfig(config, { maxNonSyncLiteral: config.limits.max_message_size })));
  return l;
}

export class Session {
  readonly id = nextSessionId++;
  readonly deps: SessionDeps;
  readonly logger: Logger;
  state: SessionState = 'not-authenticated';
  account: Account | null = null;
  view: MailboxView | null = null;
  /** ENABLEd extensions (upper-case). */
  readonly enabled = new Set<string>();
  /** UIDs saved by SEARCH / SORT RETURN (SAVE) (RFC 5182), for `$`; emptied by select() and unselect(). */
  savedSearch: number[] = [];
  /** NOTIFY SET (RFC 5465); null = NOTIFY NONE. */
  #notify: NotifySpec | null = null;
  /** Mailbox id → name, kept while NOTIFY is set (change-feed entries name mailboxes by id). */
  #mailboxNames = new Map<number, string>();
  #subscribedNames = new Set<string>();
  #transport: Transport;
  #parser: CommandParser;
  #pending = 0;
  #running = false;
  /** "+ Ready for literal data" sent and the command not complete yet. */
  #literalPending = false;
  #closed = false;
  #badCommands = 0;
  #commandsBeforeLogin = 0;
  #lineWaiter: ((line: string | null) => void) | null = null;
  #idleNotify: (() => void) | null = null;
  #dirty = false;
  #selectedDeleted = false;
  #unsubscribe: (() => void) | null = null;
  #releaseAccount: (() => void) | null = null;
  #timer: NodeJS.Timeout;
  #keepalive: NodeJS.Timeout | null = null;
  #pushing: Promise<void> | null = null;
  #onClosed: Array<() => void> = [];
  #shuttingDown = false;

  constructor(transport: Transport, deps: SessionDeps) {
    this.#transport = transport;
    this.deps = deps;
    this.logger = deps.logger;
    this.#parser = this.#newParser();
    this.#timer = setTimeout(() => this.#timeout(), deps.config.imap.preauth_timeout_seconds * 1000);
    this.#timer.unref?.();
  }

  #newParser(): CommandParser {
    return new CommandParser({ limits: wireLimits(this.deps.config), utf8: this.utf8 });
  }

  get store(): Store {
    return this.deps.store;
  }
  get config(): Config {
    return this.deps.config;
  }
  get transport(): Transport {
    return this.#transport;
  }
  get closed(): boolean {
    return this.#closed;
  }
  get rev2(): boolean {
    return this.enabled.has('IMAP4REV2');
  }
  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT');
  }
  /** ENABLE UIDONLY (RFC 9586): no message sequence numbers on the wire from now on. */
  get uidOnly(): boolean {
    return this.enabled.has('UIDONLY');
  }
  get capabilities(): string[] {
    return capabilities(this);
  }

  /** The selected view (dispatch guarantees it in the selected state). */
  get selected(): MailboxView {
    if (!this.view) throw new Error('no mailbox selected');
    return this.view;
  }

  greet(): void {
    this.send({ kind: 'status', status: 'OK', code: { code: 'CAPABILITY', args: this.capabilities.map((atom) => ({ atom })) }, text: 'Pigeon IMAP ready' });
  }

  // ---- output ------------------------------------------------------------------------------

  send(response: Response): void {
    if (this.#closed) return;
    this.#transport.write(encodeResponse(response, { utf8: this.utf8 }));
  }
  data(values: ImapValue[]): void {
    this.send({ kind: 'data', values });
  }
  /**
   * `* seq FETCH (items)` for a message of the selected mailbox; once UIDONLY is enabled
   * `* uid UIDFETCH (items)` (RFC 9586 §3.3), without a UID item unless the client asked for it
   * (`uidRequested`): the response number already is the UID.
   */
  fetchResponse(message: { seq: number; uid: number }, items: ImapValue[], options: { uidRequested?: boolean } = {}): void {
    if (!this.uidOnly) {
      this.send({ kind: 'data', values: [message.seq, { atom: 'FETCH' }, items] });
      return;
    }
    this.send({ kind: 'data', values: [message.uid, { atom: 'UIDFETCH' }, options.uidRequested ? items : withoutUid(items)] });
  }
  status(status: 'OK' | 'NO' | 'BAD' | 'BYE', text: string, code?: ResponseCode): void {
    this.send(code ? { kind: 'status', status, code, text } : { kind: 'status', status, text });
  }
  continuation(text: string): void {
    this.send({ kind: 'continuation', text });
  }
  tagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: ResponseCode): void {
    this.send(code ? { kind: 'tagged', tag, status, code, text } : { kind: 'tagged', tag, status, text });
  }

  /** Wait for the client to read what it was sent when too much is queued (backpressure). */
  async throttle(): Promise<void> {
    if (this.#transport.backlog <= OUTPUT_HIGH_WATER) return;
    // Stop reading while the client is not reading what it was sent.
    this.#transport.pause();
    await this.#transport.drain();
    if (this.#pending <= INPUT_HIGH_WATER) this.#transport.resume();
  }

  // ---- input -------------------------------------------------------------------------------

  /** Bytes from the transport. */
  onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#timer.refresh();
    this.#parser.push(chunk);
    this.#pending += chunk.length;
    if (this.#pending > PREAUTH_INPUT_LIMIT && this.state === 'not-authenticated') {
      this.status('BYE', 'Too much data before login');
      this.close();
      return;
    }
    if (this.#lineWaiter) this.#deliverLine();
    else void this.#pump();
    if (this.#pending > INPUT_HIGH_WATER && (this.#running || this.#lineWaiter)) this.#transport.pause();
  }

  /** Read one line in line mode (IDLE's DONE, AUTHENTICATE continuations); null when the
   *  connection closed. */
  readLine(): Promise<string | null> {
    if (this.#closed) return Promise.resolve(null);
    this.#parser.expectLine();
    return new Promise((resolve) => {
      this.#lineWaiter = resolve;
      this.#deliverLine();
    });
  }

  #deliverLine(): void {
    const r = this.#parser.next();
    if (r.kind === 'need-more') return;
    const waiter = this.#lineWaiter!;
    this.#lineWaiter = null;
    if (r.kind === 'line') {
      this.#pending = Math.max(0, this.#pending - r.consumed);
      waiter(r.line);
    } else if (r.kind === 'bad') {
      // An overlong line: not DONE, not base64; the command answers BAD.
      this.#pending = Math.max(0, this.#pending - r.consumed);
      waiter('');
      if (r.close) this.close();
    } else {
      waiter(null);
    }
  }

  async #pump(): Promise<void> {
    if (this.#running || this.#closed) return;
    this.#running = true;
    try {
      while (!this.#closed && !this.#lineWaiter) {
        const r = this.#parser.next();
        if (r.kind === 'need-more') break;
        if (r.kind === 'need-literal') {
          if (this.state === 'not-authenticated' && r.command !== 'LOGIN' && r.command !== 'AUTHENTICATE') {
            // Do not read data for a command that cannot run before login.
            this.#parser.refuseLiteral();
            this.tagged(r.tag, 'BAD', `${r.command}: Log in first`);
            this.countBad();
          } else if (r.size > this.config.limits.max_message_size) {
            this.#parser.refuseLiteral();
            this.tagged(r.tag, 'NO', 'Literal too large', { code: 'TOOBIG' });
          } else {
            this.continuation('Ready for literal data');
            this.#literalPending = true;
          }
          continue;
        }
        if (r.kind === 'line') {
          this.#pending = Math.max(0, this.#pending - r.consumed);
          continue;
        }
        this.#literalPending = false;
        this.#pending = Math.max(0, this.#pending - r.consumed);
        if (this.#pending <= INPUT_HIGH_WATER) this.#transport.resume();
        if (r.kind === 'bad') {
          this.#bad(r.tag, r.status, r.message, r.code, r.close === true);
          continue;
        }
        if (this.state === 'not-authenticated' && ++this.#commandsBeforeLogin > this.config.limits.max_commands_before_login) {
          this.status('BYE', 'Too many commands before login');
          this.close();
          break;
        }
        if (this.#pushing) await this.#pushing;
        await dispatch(this, r.command);
        if (this.#shuttingDown && !this.#closed) {
          this.status('BYE', 'Server shutting down');
          this.close();
        }
        await this.throttle();
      }
    } catch (err) {
      this.logger.error({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined, session: this.id }, 'imap session failed');
      this.status('BYE', 'Internal error');
      this.close();
    } finally {
      this.#running = false;
      this.#transport.resume();
      // Events that arrived after the last command's updates were written go out now.
      const n = this.#notify;
      if (n && (n.pending || (this.#dirty && n.selectedGroup))) this.#pushUnsolicited();
    }
  }

  #bad(tag: string | null, status: 'BAD' | 'NO', message: string, code: string | undefined, close: boolean): void {
    const rc = code && code !== 'PARSE' ? { code } : undefined;
    if (tag) this.tagged(tag, status, message, rc);
    else this.status('BAD', message, rc);
    this.countBad();
    if (close && !this.#closed) {
      this.status('BYE', 'Closing connection');
      this.close();
    }
  }

  /** Count a bad command; past the limit the connection ends with BYE. */
  countBad(): void {
    if (++this.#badCommands >= this.config.limits.max_bad_commands && !this.#closed) {
      this.status('BYE', 'Too many bad commands');
      this.close();
    }
  }

  // ---- state changes -----------------------------------------------------------------------

  /** Enter the authenticated state; false when the account has too many connections. */
  login(account: Account): boolean {
    const release = this.deps.accounts.acquire(String(account.id));
    if (!release) return false;
    this.#releaseAccount = release;
    this.account = account;
    this.state = 'authenticated';
    this.#unsubscribe = this.store.feed.subscribe(account.id, (changes) => this.#onChanges(changes));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#timeout(), this.config.imap.autologout_seconds * 1000);
    this.#timer.unref?.();
    return true;
  }

  select(view: MailboxView): void {
    this.view = view;
    this.savedSearch = [];
    this.#dirty = false;
    this.#selectedDeleted = false;
    this.state = 'selected';
  }

  unselect(): void {
    this.view = null;
    // RFC 9051 §6.4.4.1, RFC 5182 §2.1: the saved search result belongs to the mailbox left.
    this.savedSearch = [];
    this.#dirty = false;
    if (this.state === 'selected') this.state = 'authenticated';
  }

  /** STARTTLS: drop every byte received before the handshake (RFC 9051 §6.2.1), then upgrade. */
  async startTls(): Promise<void> {
    this.#parser.drain();
    this.#pending = 0;
    await this.#transport.startTls();
    this.#parser.drain();
  }

  /** COMPRESS DEFLATE accepted (RFC 4978 §3): every byte after the command line is compressed. */
  startCompression(): void {
    const rest = this.#parser.drain();
    this.#pending = 0;
    this.#transport.startCompression?.(rest);
  }

  /** ENABLE UTF8=ACCEPT: the parser reads mailbox names as UTF-8 from now on (RFC 6855 §3). */
  enableUtf8(): void {
    this.enabled.add('UTF8=ACCEPT');
    this.#parser.setUtf8(true);
  }

  // ---- unsolicited updates -----------------------------------------------------------------

  #onChanges(changes: readonly Change[]): void {
    const view = this.view;
    const notify = this.#notify;
    if (notify) this.#noteForNotify(notify, changes);
    if (view) {
      for (const c of changes) {
        if (c.mailboxId !== view.mailboxId) continue;
        this.#dirty = true;
        if (c.kind === 'mailbox-deleted') this.#selectedDeleted = true;
      }
    }
    const notifyPending = notify !== null && (notify.pending || (this.#dirty && notify.selectedGroup !== null));
    if ((this.#dirty || notifyPending) && this.#idleNotify) this.#idleNotify();
    else if (notifyPending && !this.#running) this.#pushUnsolicited();
  }

  #noteForNotify(notify: NotifySpec, changes: readonly Change[]): void {
    for (const c of changes) {
      if (c.kind === 'mailbox-created' || c.kind === 'mailbox-renamed') this.#mailboxNames.set(c.mailboxId, c.name);
      else if (c.kind === 'subscription-changed') {
        if (c.subscribed) this.#subscribedNames.add(c.name);
        else this.#subscribedNames.delete(c.name);
      }
    }
    notify.note(changes, this.#mailboxNames, this.#notifyContext());
    for (const c of changes) if (c.kind === 'mailbox-deleted') this.#mailboxNames.delete(c.mailboxId);
  }

  #notifyContext(): NotifyContext {
    return { selectedMailboxId: this.view?.mailboxId ?? null, subscribed: this.#subscribedNames };
  }

  get notify(): NotifySpec | null {
    return this.#notify;
  }

  /** NOTIFY SET / NONE (RFC 5465 §3): from now on, queue events for the mailboxes named. */
  async setNotify(spec: NotifySpec | null): Promise<void> {
    this.#notify = null;
    this.#mailboxNames.clear();
    this.#subscribedNames.clear();
    if (!spec || !this.account) return;
    const mailboxes = await this.store.listMailboxes(this.account.id);
    for (const m of mailboxes) this.#mailboxNames.set(m.id, m.name);
    if (spec.needsSubscriptions) for (const n of await this.store.listSubscriptions(this.account.id)) this.#subscribedNames.add(n);
    this.#notify = spec;
  }

  /** Names of the mailboxes NOTIFY SET STATUS reports on (all but the selected one). */
  notifyWatched(): Array<{ id: number; name: string }> {
    const spec = this.#notify;
    if (!spec) return [];
    const ctx = this.#notifyContext();
    const watched = new Set(spec.watched([...this.#mailboxNames.values()], ctx));
    return [...this.#mailboxNames].filter(([id, name]) => id !== ctx.selectedMailboxId && watched.has(name)).map(([id, name]) => ({ id, name }));
  }

  /** STATUS attributes sent for NOTIFY events (RFC 5465 §5.1, §5.2; HIGHESTMODSEQ with CONDSTORE, RFC 7162 §3.1.7). */
  notifyStatusValues(mailbox: Mailbox, options: { uidValidity: boolean }): ImapValue[] {
    const out: ImapValue[] = [{ atom: 'MESSAGES' }, mailbox.messageCount, { atom: 'UIDNEXT' }, mailbox.uidNext];
    if (options.uidValidity) out.push({ atom: 'UIDVALIDITY' }, mailbox.uidValidity);
    out.push({ atom: 'UNSEEN' }, mailbox.unseenCount);
    if (this.enabled.has('CONDSTORE') || this.enabled.has('QRESYNC')) out.push({ atom: 'HIGHESTMODSEQ' }, mailbox.highestModseq);
    return out;
  }

  /** Between commands: write NOTIFY events now (RFC 5465 §3 allows them at any time). */
  #pushUnsolicited(): void {
    if (this.#pushing || this.#closed) return;
    this.#pushing = (async () => {
      try {
        for (;;) {
          const n = this.#notify;
          if (this.#closed || this.#running || !n) break;
          if (!n.pending && !(this.#dirty && n.selectedGroup)) break;
          await this.sendUpdates({ allowExpunge: n.selectedGroup !== null && !n.selectedGroup.delayed, viewOnlyIfNotified: true });
        }
      } catch (err) {
        this.logger.error({ err: errorMessage(err), session: this.id }, 'imap notify update failed');
      } finally {
        this.#pushing = null;
      }
    })();
  }

  /** Write queued NOTIFY events for other mailboxes, or the overflow (RFC 5465 §5.8). */
  async #deliverNotify(): Promise<void> {
    const n = this.#notify;
    if (!n || !n.pending || !this.account) return;
    if (n.overflowed) {
      this.#notify = null;
      this.#mailboxNames.clear();
      this.status('OK', 'Too many events; NOTIFY is now NONE', { code: 'NOTIFICATIONOVERFLOW' });
      return;
    }
    for (const item of n.take()) {
      if (this.#closed) return;
      if (item.kind === 'status') {
        if (item.mailboxId === this.view?.mailboxId) continue;
        const mailbox = await this.store.getMailboxById(item.mailboxId);
        if (!mailbox || mailbox.accountId !== this.account.id) continue;
        this.data([{ atom: 'STATUS' }, { mailbox: mailbox.name }, this.notifyStatusValues(mailbox, { uidValidity: false })]);
      } else if (item.kind === 'list') {
        // RFC 5465 §5.4: LIST for a new, deleted (\NonExistent) or renamed (OLDNAME, RFC 5258 §6) mailbox.
        const line: ImapValue[] = [{ atom: 'LIST' }, item.deleted ? [{ atom: '\\NonExistent' }] : [], '/', { mailbox: item.name }];
        if (item.oldName !== undefined) line.push(['OLDNAME', [{ mailbox: item.oldName }]]);
        this.data(line);
      } else {
        // RFC 5465 §5.5: LIST with or without \Subscribed.
        this.data([{ atom: 'LIST' }, item.subscribed ? [{ atom: '\\Subscribed' }] : [], '/', { mailbox: item.name }]);
      }
      await this.throttle();
    }
  }

  /** RFC 5465 §5.1: MessageNew with fetch attributes on the selected mailbox sends them for new messages. */
  async #fetchNew(view: MailboxView, from: number, to: number, attrs: readonly FetchAttribute[]): Promise<void> {
    const uids: number[] = [];
    for (let seq = from; seq <= to; seq++) {
      const uid = view.uidAt(seq);
      if (uid !== undefined) uids.push(uid);
    }
    const records = await this.store.getMessages(view.mailboxId, uids, { index: needsIndex(attrs) });
    const byUid = new Map(records.map((r) => [r.uid, r]));
    for (let seq = from; seq <= to; seq++) {
      const uid = view.uidAt(seq);
      const record = uid === undefined ? undefined : byUid.get(uid);
      if (!record || uid === undefined) continue;
      let raw: Buffer | undefined;
      if (needsRaw(attrs)) {
        const range = rawRange(attrs, record.index);
        raw = await this.store.readBlob(record.blobHash, range.end < record.size ? range : undefined);
      }
      const msg = { record, seq, recentFlag: !this.rev2 && view.isRecent(uid), ...(raw ? { raw } : {}) };
      const values: ImapValue[] = [];
      for (const a of attrs) {
        const item = renderFetchItem(a, msg, { utf8: this.utf8 });
        values.push(item.name, item.value);
      }
      this.fetchResponse({ seq, uid }, values, { uidRequested: true });
    }
  }

  /** Read the journal if a change was signalled (or `force`), then write what may be sent now. */
  async sendUpdates(options: { allowExpunge: boolean; force?: boolean; viewOnlyIfNotified?: boolean }): Promise<void> {
    await this.#deliverNotify();
    const view = this.view;
    if (!view || this.#closed) return;
    if (options.viewOnlyIfNotified && !this.#notify?.selectedGroup) return;
    if (this.#selectedDeleted) {
      // The selected mailbox was deleted by another session: its numbering cannot go on
      // (RFC 9051 §6.3.5 leaves this to the server; like other servers, end the session).
      this.status('BYE', 'The selected mailbox was deleted');
      this.close();
      return;
    }
    if (this.#dirty || options.force) {
      this.#dirty = false;
      await view.sync();
    }
    if (view !== this.view) return;
    const events = view.flush({ allowExpunge: options.allowExpunge });
    this.writeViewEvents(events);
    const fetch = this.#notify?.selectedGroup?.fetch;
    if (fetch?.length) for (const e of events) if (e.kind === 'exists') await this.#fetchNew(view, e.from, e.count, fetch);
  }

  /**
   * Before flags are sent: if they hold a keyword the client has not seen in FLAGS, send FLAGS and
   * PERMANENTFLAGS again (RFC 9051 §7.3.5, §7.1 PERMANENTFLAGS).
   */
  announceKeywords(flags: readonly string[]): void {
    const view = this.view;
    if (!view || !view.learnKeywords(flags)) return;
    const all: ImapValue[] = [...SYSTEM_FLAGS, ...view.keywords].map((atom) => ({ atom }));
    this.data([{ atom: 'FLAGS' }, all]);
    this.status('OK', view.readOnly ? 'No permanent flags permitted' : 'Flags permitted', {
      code: 'PERMANENTFLAGS',
      args: [view.readOnly ? [] : [...all, { atom: '\\*' }]],
    });
  }

  writeViewEvents(events: ViewEvent[]): void {
    const withUid = this.view !== null;
    // RFC 7162 §3.2.10: once QRESYNC is enabled, expunges are reported as VANISHED (by UID);
    // RFC 9586 §3: so they are once UIDONLY is.
    const qresync = this.enabled.has('QRESYNC') || this.uidOnly;
    let vanished: number[] = [];
    const sendVanished = (): void => {
      if (vanished.length) this.data([{ atom: 'VANISHED' }, { atom: compactUidSet(vanished.sort((a, b) => a - b)) }]);
      vanished = [];
    };
    for (const e of events) {
      if (e.kind === 'expunge' && qresync) {
        vanished.push(e.uid);
        continue;
      }
      sendVanished();
      if (e.kind === 'expunge') this.data([e.seq, { atom: 'EXPUNGE' }]);
      else if (e.kind === 'exists') {
        this.announceKeywords(e.keywords);
        this.data([e.count, { atom: 'EXISTS' }]);
      }
      else if (e.kind === 'recent') this.data([e.count, { atom: 'RECENT' }]);
      else {
        this.announceKeywords(e.flags);
        const items: ImapValue[] = [{ atom: 'FLAGS' }, this.flagList(e.uid, e.flags)];
        if (withUid) items.push({ atom: 'UID' }, e.uid);
        // RFC 7162 §3.1: with CONDSTORE enabled, unsolicited FETCH responses carry MODSEQ.
        if (this.enabled.has('CONDSTORE')) items.push({ atom: 'MODSEQ' }, [e.modseq]);
        this.fetchResponse(e, items);
      }
    }
    sendVanished();
  }

  /** A message's flags as sent: \Recent added for rev1 sessions (RFC 3501 §2.3.2). */
  flagList(uid: number, flags: readonly string[]): ImapValue[] {
    const out: ImapValue[] = flags.map((f) => ({ atom: f }));
    if (!this.rev2 && this.view?.isRecent(uid)) out.push({ atom: '\\Recent' });
    return out;
  }

  /**
   * IDLE (RFC 2177): send updates as they arrive and `* OK Still here` every
   * imap.idle_keepalive_seconds until the client sends a line; returns that line (null on close).
   */
  async idle(): Promise<string | null> {
    const push = (): void => {
      if (this.#pushing) return;
      this.#pushing = (async () => {
        try {
          while ((this.#dirty || this.#notify?.pending) && !this.#closed) await this.sendUpdates({ allowExpunge: true });
        } catch (err) {
          this.logger.error({ err: errorMessage(err), session: this.id }, 'imap idle update failed');
        } finally {
          this.#pushing = null;
        }
      })();
    };
    this.#idleNotify = push;
    const every = this.config.imap.idle_keepalive_seconds * 1000;
    this.#keepalive = setInterval(() => this.status('OK', 'Still here'), every);
    this.#keepalive.unref?.();
    try {
      await this.sendUpdates({ allowExpunge: true, force: true });
      const line = await this.readLine();
      if (this.#pushing) await this.#pushing;
      return line;
    } finally {
      this.#idleNotify = null;
      if (this.#keepalive) clearInterval(this.#keepalive);
      this.#keepalive = null;
    }
  }

  // ---- end ---------------------------------------------------------------------------------

  #timeout(): void {
    if (this.#closed) return;
    // The client is waiting for us (a slow login, a long FETCH): that is not inactivity.
    if (this.#running && !this.#lineWaiter) {
      this.#timer.refresh();
      return;
    }
    this.status('BYE', 'Autologout; idle for too long');
    this.close();
  }

  /** Server shutdown: BYE now when no command runs, else after the current one. */
  shutdown(): void {
    this.#shuttingDown = true;
    // A command still arriving (an APPEND literal after "+ Ready", or any partly received
    // command) is let finish: the pump says BYE after it; the listener's timeout bounds the wait.
    if (!this.#running && (this.#literalPending || this.#parser.buffered > 0)) return;
    if (!this.#running || this.#lineWaiter) {
      this.status('BYE', 'Server shutting down');
      this.close();
    }
  }

  onClose(listener: () => void): void {
    this.#onClosed.push(listener);
  }

  /** Close the connection (after queued output is flushed) and release everything. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.state = 'logout';
    clearTimeout(this.#timer);
    if (this.#keepalive) clearInterval(this.#keepalive);
    this.#unsubscribe?.();
    this.#unsubscribe = null;
    this.#releaseAccount?.();
    this.#releaseAccount = null;
    this.view = null;
    const waiter = this.#lineWaiter;
    this.#lineWaiter = null;
    waiter?.(null);
    this.#transport.close();
    for (const l of this.#onClosed.splice(0)) l();
  }
}

function isAtom(value: ImapValue | undefined, atom: string): boolean {
  return typeof value === 'object' && value !== null && 'atom' in value && value.atom === atom;
}

function withoutUid(items: readonly ImapValue[]): ImapValue[] {
  const out: ImapValue[] = [];
  for (let i = 0; i < items.length; i += 2) {
    if (isAtom(items[i], 'UID')) continue;
    out.push(items[i]!);
    if (i + 1 < items.length) out.push(items[i + 1]!);
  }
  return out;
}
