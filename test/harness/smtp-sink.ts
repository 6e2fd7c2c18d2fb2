// A tiny SMTP server for tests and benchmarks: accepts everything unless told otherwise, answers
// scripted replies per recipient, records each transaction and emits events so tests wait on
// them instead of sleeping. Handles pipelined commands (it answers lines in order), DSN and SIZE
// parameters, AUTH PLAIN/LOGIN, and can hold the reply to the final dot until released.
import net from 'node:net';
import { EventEmitter, once } from 'node:events';

export interface SinkTransaction {
  from: string;
  /** Accepted recipients. */
  to: string[];
  /** RCPT parameters by recipient (NOTIFY=…, ORCPT=…). */
  rcptParams: Map<string, string>;
  mailParams: string;
  /** The message with dot-stuffing removed. */
  data: Buffer;
  /** AUTH user of the session, if any. */
  user: string | null;
}

export interface SinkOptions {
  /** Reply to RCPT TO for this address ("250 2.1.5 OK" by default); called once per attempt. */
  rcpt?: (address: string) => string;
  /** Reply to the final dot (default 250). */
  dataReply?: (tx: SinkTransaction) => string;
  /** Advertise DSN (default true). */
  dsn?: boolean;
  /** Require AUTH with these credentials before MAIL. */
  auth?: { user: string; pass: string };
  /** Called before answering the final dot; the reply waits for it. */
  beforeDataReply?: (tx: SinkTransaction) => Promise<void>;
}

export class SmtpSink extends EventEmitter {
  readonly messages: SinkTransaction[] = [];
  /** MAIL FROM commands seen (attempts). */
  mailCommands = 0;
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #options: SinkOptions;
  port = 0;

  private constructor(options: SinkOptions) {
    super();
    this.setMaxListeners(0);
    this.#options = options;
    this.#server = net.createServer((s) => this.#session(s));
  }

  static async start(options: SinkOptions = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(options);
    sink.#server.listen(0, '127.0.0.1');
    await once(sink.#server, 'listening');
    sink.port = (sink.#server.address() as net.AddressInfo).port;
    return sink;
  }

  /** Resolves when `n` messages have been received in total. */
  async waitForMessages(n: number): Promise<SinkTransaction[]> {
    while (this.messages.length < n) await once(this, 'message');
    return this.messages;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #session(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => undefined);
    const o = this.#options;
    let buffer = Buffer.alloc(0);
    let inData = false;
    let user: string | null = null;
    let authStep: null | 'login-user' | 'login-pass' = null;
    let loginUser = '';
    let tx: SinkTransaction | null = null;
    let paused = false;
    const send = (line: string) => {
      if (!socket.destroyed) socket.write(line + '\r\n');
    };
    send('220 sink.test ESMTP');

    const command = (line: string): void => {
      if (authStep === 'login-user') {
        loginUser = Buffer.from(line, 'base64').toString();
        authStep = 'login-pass';
        return send('334 UGFzc3dvcmQ6');
      }
      if (authStep === 'login-pass') {
        authStep = null;
        const pass = Buffer.from(line, 'base64').toString();
        if (o.auth && loginUser === o.auth.user && pass === o.auth.pass) {
          user = loginUser;
          return send('235 2.7.0 Authentication successful');
        }
        return send('535 5.7.8 Authentication credentials invalid');
      }
      const verb = line.slice(0, 4).toUpperCase();
      const arg = line.slice(5);
      switch (verb) {
        case 'EHLO': {
          const ext = ['PIPELINING', 'SIZE 52428800', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES'];
          if (o.dsn ?? true) ext.push('DSN');
          if (o.auth) ext.push('AUTH PLAIN LOGIN');
          return send(['250-sink.test', ...ext.map((e, i) => `250${i === ext.length - 1 ? ' ' : '-'}${e}`)].join('\r\n'));
        }
        case 'HELO':
          return send('250 sink.test');
        case 'AUTH': {
          const [mech, initial] = arg.split(' ');
          if (mech?.toUpperCase() === 'PLAIN') {
            const parts = Buffer.from(initial ?? '', 'base64').toString().split('\0');
            if (o.auth && parts[1] === o.auth.user && parts[2] === o.auth.pass) {
              user = parts[1]!;
              return send('235 2.7.0 Authentication successful');
            }
            return send('535 5.7.8 Authentication credentials invalid');
          }
          if (mech?.toUpperCase() === 'LOGIN') {
            authStep = 'login-user';
            return send('334 VXNlcm5hbWU6');
          }
          return send('504 5.5.4 Unrecognized authentication type');
        }
        case 'MAIL': {
          if (o.auth && user === null) return send('530 5.7.0 Authentication required');
          const m = /^FROM:\s*<([^>]*)>\s*(.*)$/i.exec(arg);
          if (!m) return send('501 5.5.4 Syntax error');
          this.mailCommands += 1;
          tx = { from: m[1]!, to: [], rcptParams: new Map(), mailParams: m[2]!, data: Buffer.alloc(0), user };
          this.emit('mail', tx);
          return send('250 2.1.0 OK');
        }
        case 'RCPT': {
          const m = /^TO:\s*<([^>]*)>\s*(.*)$/i.exec(arg);
          if (!tx) return send('503 5.5.1 MAIL first');
          if (!m) return send('501 5.5.4 Syntax error');
          const reply = o.rcpt?.(m[1]!) ?? '250 2.1.5 OK';
          if (reply.startsWith('2')) {
            tx.to.push(m[1]!);
            tx.rcptParams.set(m[1]!, m[2]!);
          }
          return send(reply);
        }
        case 'DATA':
          if (!tx || tx.to.length === 0) return send('554 5.5.1 No valid recipients');
          inData = true;
          return send('354 End data with <CR><LF>.<CR><LF>');
        case 'RSET':
          tx = null;
          return send('250 2.0.0 OK');
        case 'NOOP':
          return send('250 2.0.0 OK');
        case 'QUIT':
          send('221 2.0.0 Bye');
          socket.end();
          return;
        default:
          return send('502 5.5.2 Command not recognized');
      }
    };

    const finishData = async (raw: Buffer): Promise<void> => {
      const t = tx!;
      tx = null;
      t.data = Buffer.from(raw.toString('latin1').replace(/^\./gm, ''), 'latin1');
      if (o.beforeDataReply) await o.beforeDataReply(t);
      const reply = o.dataReply?.(t) ?? '250 2.0.0 queued';
      if (reply.startsWith('2')) {
        this.messages.push(t);
        this.emit('message', t);
      }
      send(reply);
    };

    const pump = (): void => {
      while (!paused) {
        if (inData) {
          const end = buffer.indexOf('\r\n.\r\n');
          const atStart = buffer.subarray(0, 3).toString() === '.\r\n';
          if (end < 0 && !atStart) return;
          const raw = atStart ? Buffer.alloc(0) : buffer.subarray(0, end + 2);
          buffer = buffer.subarray(atStart ? 3 : end + 5);
          inData = false;
          paused = true;
          void finishData(raw).finally(() => {
            paused = false;
            pump();
          });
          return;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.subarray(0, nl).toString('utf8');
        buffer = buffer.subarray(nl + 2);
        command(line);
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      pump();
    });
  }
}
