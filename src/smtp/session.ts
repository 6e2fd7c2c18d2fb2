// One SMTP, submission or LMTP session as a state machine, without sockets: lines and message
// bytes come in (already framed by wire/reader.ts), replies and the next reading mode go out.
// RFC 5321 §4.1.4 command order; RFC 3207 STARTTLS; RFC 4954 AUTH; RFC 1870 SIZE; RFC 3030
// CHUNKING; RFC 6531 SMTPUTF8; RFC 3461 DSN parameters; RFC 2033 LMTP.
//
// Invariants:
// - A transaction (MAIL … DATA/BDAT LAST) ends in exactly one outcome; the message is handed to
//   `accept` only when it is whole, within the size limit and free of bare CR/LF.
// - After STARTTLS every piece of state is forgotten (RFC 3207 §4.2): the client says EHLO again.
// - Each abuse counter ends the session with 421 (bad commands, commands before MAIL, AUTH failures).
import type { Account } from '../store/store.js';
import { SASL_MECHANISMS, SaslExchange } from '../auth/sasl.js';
import { MAX_AUTH_FAILURES, MAX_AUTH_LINE, type SmtpLimits } from './limits.js';
import { localRecipientDecision, recipientKey, relayDecision, type LocalResolution } from './policy/relay.js';
import { senderAllowed, type SenderFacts } from './policy/sender.js';
import { parseCommand, type MailParams, type RcptParams, type SmtpCommand } from './wire/command.js';
import { parseMailbox, type MailPath } from './wire/path.js';
import { LineEndingCheck, type ReaderEvent } from './wire/reader.js';
import { reply, type Reply } from './wire/reply.js';

/** Which listener the session runs on. */
export type SessionKind = 'mx' | 'submission' | 'submissions' | 'lmtp';

export interface AcceptedRecipient {
  /** Lower-case canonical address used for delivery ("local@domain"). */
  address: string;
  /** As the client wrote it (for the Received "for" clause and ORCPT default). */
  original: string;
  kind: 'local' | 'remote';
  params: RcptParams;
}

/** The envelope of a complete transaction, handed to `accept`. */
export interface Envelope {
  /** Reverse-path, "" for the null sender. */
  sender: string;
  recipients: AcceptedRecipient[];
  params: MailParams;
  helo: string;
  esmtp: boolean;
  remoteAddress: string;
  tls: TlsInfo | null;
  account: Account | null;
  /** The client address is in My Networks (never for LMTP, whose MTA in front decided relaying). */
  trustedNetwork: boolean;
  kind: SessionKind;
  /** CHUNKING was used (Received "with" stays ESMTP; noted for logs). */
  chunked: boolean;
}

export interface TlsInfo {
  protocol: string;
  cipher: string;
}

export type AuthOutcome = { ok: true; account: Account } | { ok: false; reason: 'invalid' | 'locked' };

/** What the session needs from the rest of Pigeon; built by server.ts over the store, auth and delivery. */
export interface SessionServices {
  /** Is this lower-case ASCII domain one of ours? */
  isLocalDomain(domain: string): Promise<boolean>;
  resolveRecipient(address: string): Promise<LocalResolution>;
  authenticate(input: { username: string; password: string; remoteAddress: string }): Promise<AuthOutcome>;
  /** Facts for the sender rule of an authenticated account (policy/sender.ts decides). */
  senderFacts(account: Account, sender: string | null): Promise<SenderFacts>;
  /**
   * Stamp and deliver/queue the message; durable before it resolves. SMTP: one reply. LMTP: one
   * reply per recipient, in order (RFC 2033 §4.2).
   */
  accept(envelope: Envelope, message: Buffer): Promise<Reply[]>;
  /**
   * BURL (RFC 4468): the bytes a URLAUTH-authorized IMAP URL names, read from our own store for
   * the submitting account; throws when the URL is refused. Absent: BURL is not offered.
   */
  fetchUrlauth?(url: string, account: Account): Promise<Buffer>;
}

export interface SessionOptions {
  kind: SessionKind;
  hostname: string;
  remoteAddress: string;
  /** Client address is in My Networks. */
  trustedNetwork: boolean;
  /** The connection is TLS from the start (465). */
  tls: TlsInfo | null;
  /** STARTTLS can be offered (a certificate is available). */
  starttlsAvailable: boolean;
  /** config.auth.allow_plaintext. */
  allowPlaintextAuth: boolean;
  limits: SmtpLimits;
}

/** What the connection does after sending the replies. */
export type NextAction =
  | { kind: 'line' }
  | { kind: 'close' }
  | { kind: 'starttls' }
  | { kind: 'data'; keep: number }
  | { kind: 'chunk'; size: number; keep: number };

export interface Step {
  replies: Reply[];
  next: NextAction;
}

interface Transaction {
  sender: MailPath | null;
  params: MailParams;
  recipients: AcceptedRecipient[];
  /** RCPT commands answered 250, duplicates included: they count toward max_recipients too, so
   *  100,000 identical RCPTs cost 100,000 lookups no more than 100,000 distinct ones would. */
  rcptAccepted: number;
  /** BDAT in progress (RFC 3030). */
  chunks: Buffer[] | null;
  chunkedSize: number;
  tooBig: boolean;
  endings: LineEndingCheck;
  /** A BDAT failed: later chunks of this transaction get this reply (RFC 3030 §2). */
  failed: Reply | null;
}

const line = (): NextAction => ({ kind: 'line' });
const step = (r: Reply | Reply[], next: NextAction = line()): Step => ({ replies: Array.isArray(r) ? r : [r], next });

export class SmtpSession {
  readonly options: SessionOptions;
  #services: SessionServices;
  #helo: string | null = null;
  #esmtp = false;
  #tls: TlsInfo | null;
  #account: Account | null = null;
  #txn: Transaction | null = null;
  #sasl: SaslExchange | null = null;
  /** A BDAT command waiting for its chunk: the reply to give when it is not accepted. */
  #pendingChunk: { last: boolean; refuse: Reply | null } | null = null;
  #badCommands = 0;
  #commandsBeforeMail = 0;
  #authFailures = 0;
  #closing = false;

  constructor(options: SessionOptions, services: SessionServices) {
    this.options = options;
    this.#services = services;
    this.#tls = options.tls;
  }

  /** Enhanced status codes go out only after EHLO/LHLO (RFC 2034 §3). */
  get enhancedCodes(): boolean {
    return this.#esmtp;
  }

  get authenticated(): Account | null {
    return this.#account;
  }

  get inTransaction(): boolean {
    return this.#txn !== null;
  }

  /** The first reply (RFC 5321 §4.3.1), sent at once: no greeting delay. */
  greeting(): Step {
    const proto = this.options.kind === 'lmtp' ? 'LMTP' : 'ESMTP';
    return step(reply('220', `${this.options.hostname} ${proto} Pigeon ready`));
  }

  /** The connection is ending (shutdown): the goodbye. */
  shutdown(): Reply {
    this.#closing = true;
    return reply('421 4.3.2', `${this.options.hostname} Service shutting down, closing connection`);
  }

  /** Idle timeout (RFC 5321 §4.5.3.2.7). */
  timeout(): Reply {
    return reply('421 4.4.2', `${this.options.hostname} Timeout, closing connection`);
  }

  /** STARTTLS finished: forget everything (RFC 3207 §4.2). */
  tlsStarted(info: TlsInfo): void {
    this.#tls = info;
    this.#helo = null;
    this.#esmtp = false;
    this.#account = null;
    this.#txn = null;
    this.#sasl = null;
  }

  lineTooLong(): Step {
    if (this.#sasl) {
      this.#sasl = null;
      return this.#bad(reply('500 5.5.6', 'Authentication exchange line is too long'));
    }
    return this.#bad(reply('500 5.5.2', 'Line too long'));
  }

  async handleLine(raw: Buffer): Promise<Step> {
    if (this.#closing) return step(this.shutdown(), { kind: 'close' });
    if (this.#sasl) return this.#saslResponse(raw);
    const parsed = parseCommand(raw);
    if (!parsed.ok) {
      if (parsed.http) return step(parsed.reply, { kind: 'close' });
      return this.#bad(parsed.reply);
    }
    const cmd = parsed.command;
    if (cmd.verb !== 'MAIL' && this.#txn === null && this.#account === null) {
      this.#commandsBeforeMail++;
      if (this.#commandsBeforeMail > this.options.limits.maxCommandsBeforeMail) {
        return step(reply('421 4.7.0', 'Too many commands without a transaction, closing connection'), { kind: 'close' });
      }
    }
    return this.#dispatch(cmd);
  }

  async #dispatch(cmd: SmtpCommand): Promise<Step> {
    const lmtp = this.options.kind === 'lmtp';
    switch (cmd.verb) {
      case 'EHLO':
      case 'HELO':
      case 'LHLO':
        if (lmtp !== (cmd.verb === 'LHLO')) return this.#bad(reply('500 5.5.1', lmtp ? 'This is LMTP: use LHLO' : 'LHLO is for LMTP'));
        return this.#hello(cmd.verb, cmd.domain);
      case 'MAIL':
        return this.#mail(cmd.from, cmd.params);
      case 'RCPT':
        return this.#rcpt(cmd.to, cmd.params);
      case 'DATA':
        return this.#data();
      case 'BDAT':
        return this.#bdat(cmd.size, cmd.last);
      case 'BURL':
        return this.#burl(cmd.url, cmd.last);
      case 'AUTH':
        return this.#auth(cmd.mechanism, cmd.initial);
      case 'STARTTLS':
        return this.#starttls();
      case 'RSET':
        this.#txn = null;
        return step(reply('250 2.0.0', 'Reset OK'));
      case 'NOOP':
        return step(reply('250 2.0.0', 'OK'));
      case 'QUIT':
        return step(reply('221 2.0.0', `${this.options.hostname} closing connection`), { kind: 'close' });
      case 'HELP':
        return step(reply('214 2.0.0', 'See RFC 5321; commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT STARTTLS AUTH VRFY'));
      case 'VRFY':
        // RFC 5321 §3.5.3: do not disclose mailboxes.
        return step(reply('252 2.5.0', 'Cannot VRFY user, but will accept message and attempt delivery'));
      case 'EXPN':
        return step(reply('502 5.5.1', 'EXPN not available'));
    }
  }

  #bad(r: Reply): Step {
    this.#badCommands++;
    if (this.#badCommands >= this.options.limits.maxBadCommands) {
      return step([r, reply('421 4.7.0', 'Too many errors, closing connection')], { kind: 'close' });
    }
    return step(r);
  }

  #tlsRequiredFirst(): boolean {
    return this.options.kind === 'submission' && this.#tls === null && !this.options.allowPlaintextAuth;
  }

  #authOffered(): boolean {
    return this.options.kind !== 'lmtp' && (this.#tls !== null || this.options.allowPlaintextAuth);
  }

  #hello(verb: 'EHLO' | 'HELO' | 'LHLO', domain: string): Step {
    // RFC 5321 §4.1.4: EHLO during a transaction resets it.
    this.#txn = null;
    this.#helo = domain;
    this.#esmtp = verb !== 'HELO';
    const first = `${this.options.hostname} Hello ${domain} [${this.options.remoteAddress}]`;
    if (verb === 'HELO') return step(reply('250', first));
    const ext = ['PIPELINING', `SIZE ${this.options.limits.maxMessageSize}`, '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES'];
    if (this.options.kind !== 'lmtp') ext.push('DSN');
    ext.push('CHUNKING');
    // RFC 4468 §3: submission only; the command itself needs AUTH.
    if ((this.options.kind === 'submission' || this.options.kind === 'submissions') && this.#services.fetchUrlauth) ext.push('BURL imap');
    if (this.options.kind !== 'lmtp' && this.options.kind !== 'submissions' && this.#tls === null && this.options.starttlsAvailable) ext.push('STARTTLS');
    if (this.#authOffered()) ext.push('AUTH PLAIN LOGIN');
    return step(reply('250', [first, ...ext]));
  }

  async #mail(from: MailPath | null, params: MailParams): Promise<Step> {
    if (this.#helo === null) return this.#bad(reply('503 5.5.1', 'Send EHLO first'));
    if (this.#txn) return this.#bad(reply('503 5.5.1', 'Nested MAIL command'));
    const submission = this.options.kind === 'submission' || this.options.kind === 'submissions';
    if (submission && this.#tlsRequiredFirst()) return step(reply('530 5.7.0', 'Must issue a STARTTLS command first'));
    if (submission && this.#account === null) return step(reply('530 5.7.0', 'Authentication required'));
    if (!this.#esmtp && (params.size !== null || params.body || params.smtputf8 || params.ret || params.envid || params.auth)) {
      return this.#bad(reply('555 5.5.4', 'Parameters need EHLO'));
    }
    if (this.options.kind === 'lmtp' && (params.ret || params.envid)) return this.#bad(reply('555 5.5.4', 'DSN not offered over LMTP'));
    if (from?.utf8 && !params.smtputf8) return step(reply('553 5.6.7', 'Non-ASCII address needs SMTPUTF8'));
    const max = this.options.limits.maxMessageSize;
    if (params.size !== null && params.size > max) return step(reply('552 5.3.4', `Message size exceeds fixed maximum message size (${max})`));
    if (this.#account) {
      const facts = await this.#services.senderFacts(this.#account, from ? from.address.toLowerCase() : null);
      if (!senderAllowed(facts)) return step(reply('553 5.7.1', `Sender address not owned by ${this.#account.email}`));
    }
    this.#txn = { sender: from, params, recipients: [], rcptAccepted: 0, chunks: null, chunkedSize: 0, tooBig: false, endings: new LineEndingCheck(), failed: null };
    this.#commandsBeforeMail = 0;
    return step(reply('250 2.1.0', 'Sender OK'));
  }

  async #rcpt(to: MailPath | 'postmaster', params: RcptParams): Promise<Step> {
    const txn = this.#txn;
    if (!txn) return this.#bad(reply('503 5.5.1', 'Need MAIL command first'));
    if (txn.chunks) return this.#bad(reply('503 5.5.1', 'RCPT not allowed during BDAT'));
    if (txn.rcptAccepted >= this.options.limits.maxRecipients) return step(reply('452 4.5.3', 'Too many recipients'));
    if (this.options.kind === 'lmtp' && params.notify.length + (params.orcpt ? 1 : 0) > 0) return this.#bad(reply('555 5.5.4', 'DSN not offered over LMTP'));
    if (!this.#esmtp && (params.notify.length > 0 || params.orcpt)) return this.#bad(reply('555 5.5.4', 'Parameters need EHLO'));
    let path: MailPath;
    let original: string;
    if (to === 'postmaster') {
      // RFC 5321 §4.5.1: postmaster of this host.
      try {
        path = parseMailbox(`postmaster@${this.options.hostname}`, { utf8: false });
      } catch {
        return step(reply('550 5.1.1', 'No postmaster mailbox for this host name'));
      }
      original = 'Postmaster';
    } else {
      path = to;
      original = `${to.quoted ? JSON.stringify(to.localPart) : to.localPart}@${to.domainAsWritten}`;
    }
    if (path.utf8 && !txn.params.smtputf8) return step(reply('553 5.6.7', 'Non-ASCII address needs SMTPUTF8'));
    const localDomain = !path.addressLiteral && (await this.#services.isLocalDomain(path.domain));
    const lmtp = this.options.kind === 'lmtp';
    const decision = relayDecision(path, {
      authenticated: this.#account !== null,
      // LMTP: the MTA in front decided relaying; only local recipients are ours (RFC 2033 §4.2).
      trustedNetwork: this.options.trustedNetwork && !lmtp,
      localDomain,
    });
    if (decision.kind === 'refuse') {
      return step(lmtp ? reply('550 5.1.1', 'Not a local recipient') : decision.reply);
    }
    // Local mailboxes are matched case-insensitively; a remote local part keeps its case (RFC 5321 §2.4).
    const address = decision.kind === 'local' ? recipientKey(path) : path.address;
    if (decision.kind === 'local') {
      const resolution = await this.#services.resolveRecipient(address);
      const local = localRecipientDecision(resolution, txn.params.size ?? 0);
      if (local.kind === 'refuse') return step(local.reply);
    }
    if (!txn.recipients.some((r) => r.address.toLowerCase() === address.toLowerCase())) {
      txn.recipients.push({ address, original, kind: decision.kind, params });
    }
    txn.rcptAccepted++;
    return step(reply('250 2.1.5', 'Recipient OK'));
  }

  #data(): Step {
    const txn = this.#txn;
    if (!txn) return this.#bad(reply('503 5.5.1', 'Need MAIL command first'));
    if (txn.chunks) return this.#bad(reply('503 5.5.1', 'DATA not allowed after BDAT'));
    if (txn.recipients.length === 0) return step(reply('554 5.5.1', 'No valid recipients'));
    return step(reply('354', 'End data with <CR><LF>.<CR><LF>'), { kind: 'data', keep: this.options.limits.maxMessageSize });
  }

  /** The message after DATA. */
  async handleData(ev: ReaderEvent & { kind: 'data' }): Promise<Step> {
    const txn = this.#txn;
    this.#txn = null;
    if (!txn) return step(reply('503 5.5.1', 'No transaction'));
    const refusal = this.#contentRefusal(ev.tooBig, ev.bareCr, ev.bareLf);
    if (refusal) return step(this.#perRecipient(txn, refusal));
    return this.#deliver(txn, ev.body, false);
  }

  #bdat(size: number, last: boolean): Step {
    const max = this.options.limits.maxMessageSize;
    const txn = this.#txn;
    let refuse: Reply | null = null;
    if (!txn) refuse = reply('503 5.5.1', 'Need MAIL command first');
    else if (txn.recipients.length === 0) refuse = reply('554 5.5.1', 'No valid recipients');
    else if (txn.failed) refuse = txn.failed;
    // RFC 3030 §2: the chunk is read even when refused. A size beyond any acceptable message
    // cannot be worth reading: answer and close.
    if (size > max) {
      if (txn) this.#txn = null;
      return step(reply('552 5.3.4', `Message size exceeds fixed maximum message size (${max})`), { kind: 'close' });
    }
    this.#pendingChunk = { last, refuse };
    const keep = txn && !refuse ? Math.max(0, max - txn.chunkedSize) : 0;
    return { replies: [], next: { kind: 'chunk', size, keep } };
  }

  /**
   * BURL url [LAST] (RFC 4468 §3): like a BDAT chunk whose bytes come from our IMAP store through
   * URLAUTH instead of the connection. Submission only, after AUTH (§4); a URL that cannot be
   * resolved is 554 5.6.6 and fails the transaction's later chunks as BDAT does (RFC 3030 §2).
   */
  async #burl(url: string, last: boolean): Promise<Step> {
    const submission = this.options.kind === 'submission' || this.options.kind === 'submissions';
    const fetch = this.#services.fetchUrlauth;
    if (!submission || !fetch) return this.#bad(reply('502 5.5.1', 'BURL not available'));
    if (!this.#account) return step(reply('530 5.7.0', 'Authentication required'));
    const txn = this.#txn;
    if (!txn) return this.#bad(reply('503 5.5.1', 'Need MAIL command first'));
    if (txn.recipients.length === 0) return this.#bad(reply('554 5.5.1', 'No valid recipients'));
    if (txn.failed) return step(txn.failed);
    let bytes: Buffer;
    try {
      bytes = await fetch(url, this.#account);
    } catch {
      txn.failed = reply('554 5.6.6', 'IMAP URL resolution failed');
      if (last) this.#txn = null;
      return step(txn.failed);
    }
    return this.#addChunk(txn, bytes, last, false);
  }

  /** One BDAT chunk, read in full. */
  async handleChunk(ev: ReaderEvent & { kind: 'chunk' }): Promise<Step> {
    const pending = this.#pendingChunk;
    this.#pendingChunk = null;
    const txn = this.#txn;
    if (!pending || !txn || pending.refuse) {
      if (pending?.refuse && txn) {
        if (pending.last) this.#txn = null;
        else txn.failed = pending.refuse;
      }
      if (pending?.refuse) this.#badCommands++;
      return step(pending?.refuse ?? reply('503 5.5.1', 'Need MAIL command first'));
    }
    return this.#addChunk(txn, ev.data, pending.last, ev.tooBig, ev.size);
  }

  /** Add a BDAT or BURL chunk to the transaction; the last one delivers. */
  async #addChunk(txn: Transaction, data: Buffer, last: boolean, tooBig: boolean, size = data.length): Promise<Step> {
    txn.chunks ??= [];
    txn.chunkedSize += size;
    if (tooBig || txn.chunkedSize > this.options.limits.maxMessageSize) {
      txn.tooBig = true;
      txn.chunks.length = 0;
    } else {
      txn.chunks.push(data);
      txn.endings.feed(data);
    }
    if (!last) {
      if (txn.tooBig) {
        txn.failed = reply('552 5.3.4', 'Message size exceeds fixed maximum message size');
        return step(txn.failed);
      }
      return step(reply('250 2.0.0', `${size} octets received`));
    }
    this.#txn = null;
    txn.endings.end();
    const refusal = this.#contentRefusal(txn.tooBig, txn.endings.bareCr, txn.endings.bareLf);
    if (refusal) return step(this.#perRecipient(txn, refusal));
    return this.#deliver(txn, Buffer.concat(txn.chunks), true);
  }

  #contentRefusal(tooBig: boolean, bareCr: boolean, bareLf: boolean): Reply | null {
    if (tooBig) return reply('552 5.3.4', `Message size exceeds fixed maximum message size (${this.options.limits.maxMessageSize})`);
    // SMTP smuggling defence: lines end in CRLF only (RFC 5321 §2.3.8); refuse, deliver nothing.
    if (bareCr || bareLf) return reply('554 5.6.0', 'Message refused: bare CR or LF in message (lines must end with CRLF)');
    return null;
  }

  /** LMTP answers once per recipient after the message (RFC 2033 §4.2), SMTP once. */
  #perRecipient(txn: Transaction, r: Reply): Reply[] {
    return this.options.kind === 'lmtp' ? txn.recipients.map(() => r) : [r];
  }

  async #deliver(txn: Transaction, message: Buffer, chunked: boolean): Promise<Step> {
    const envelope: Envelope = {
      sender: txn.sender ? txn.sender.address : '',
      recipients: txn.recipients,
      params: txn.params,
      helo: this.#helo ?? '',
      esmtp: this.#esmtp,
      remoteAddress: this.options.remoteAddress,
      tls: this.#tls,
      account: this.#account,
      trustedNetwork: this.options.trustedNetwork && this.options.kind !== 'lmtp',
      kind: this.options.kind,
      chunked,
    };
    const replies = await this.#services.accept(envelope, message);
    return step(replies);
  }

  #starttls(): Step {
    const offered = this.options.kind !== 'lmtp' && this.options.kind !== 'submissions' && this.options.starttlsAvailable;
    if (!offered) return this.#bad(reply('502 5.5.1', 'STARTTLS not available'));
    if (this.#tls) return this.#bad(reply('503 5.5.1', 'TLS already active'));
    if (this.#helo === null) return this.#bad(reply('503 5.5.1', 'Send EHLO first'));
    return step(reply('220 2.0.0', 'Ready to start TLS'), { kind: 'starttls' });
  }

  async #auth(mechanism: string, initial: string | null): Promise<Step> {
    if (this.options.kind === 'lmtp') return this.#bad(reply('502 5.5.1', 'AUTH not available'));
    if (this.#helo === null || !this.#esmtp) return this.#bad(reply('503 5.5.1', 'Send EHLO first'));
    if (this.#account) return this.#bad(reply('503 5.5.1', 'Already authenticated'));
    if (this.#txn) return this.#bad(reply('503 5.5.1', 'AUTH not allowed during a mail transaction'));
    // RFC 4954 §4: no passwords in the clear unless the operator allowed it.
    if (!this.#authOffered()) return step(reply('538 5.7.11', 'Encryption required for requested authentication mechanism'));
    const mech = SASL_MECHANISMS.find((m) => m === mechanism);
    if (!mech) return this.#bad(reply('504 5.5.4', 'Unrecognized authentication type'));
    const exchange = new SaslExchange(mech);
    const first = exchange.begin(initial ?? undefined);
    if (first.kind === 'challenge') {
      this.#sasl = exchange;
      return step(reply('334', first.challenge));
    }
    return this.#saslOutcome(first);
  }

  async #saslResponse(raw: Buffer): Promise<Step> {
    const exchange = this.#sasl!;
    if (raw.length > MAX_AUTH_LINE) {
      this.#sasl = null;
      return this.#bad(reply('500 5.5.6', 'Authentication exchange line is too long'));
    }
    const next = exchange.respond(raw.toString('latin1'));
    if (next.kind === 'challenge') return step(reply('334', next.challenge));
    this.#sasl = null;
    return this.#saslOutcome(next);
  }

  async #saslOutcome(s: { kind: 'done'; username: string; password: string } | { kind: 'fail'; reason: 'cancelled' | 'malformed' }): Promise<Step> {
    if (s.kind === 'fail') {
      // RFC 4954 §4: "*" → 501; undecodable → 501 5.5.2.
      return this.#bad(s.reason === 'cancelled' ? reply('501 5.0.0', 'Authentication cancelled') : reply('501 5.5.2', 'Cannot decode response'));
    }
    const result = await this.#services.authenticate({ username: s.username, password: s.password, remoteAddress: this.options.remoteAddress });
    if (result.ok) {
      this.#account = result.account;
      return step(reply('235 2.7.0', 'Authentication successful'));
    }
    this.#authFailures++;
    const r = result.reason === 'locked' ? reply('454 4.7.0', 'Too many failed logins, try again later') : reply('535 5.7.8', 'Authentication credentials invalid');
    if (this.#authFailures >= MAX_AUTH_FAILURES) return step([r, reply('421 4.7.0', 'Too many failed logins, closing connection')], { kind: 'close' });
    return step(r);
  }
}
