// Small real clients for the scale tests: SMTP delivery with nodemailer, IMAP with imapflow, and
// a minimal POP3 client over implicit TLS (RFC 1939 commands, multi-line answers ended by ".").
import tls from 'node:tls';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';

export function message(subject: string, to = 'alice@example.com'): string {
  return `From: Carol <carol@example.org>\r\nTo: ${to}\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@example.org>\r\n\r\nHello from ${subject}.\r\n`;
}

/** Delivers over SMTP (the MX port) to a local recipient; resolves after the server's 250. */
export async function sendSmtp(port: number, options: { to?: string; subject: string }): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, tls: { rejectUnauthorized: false }, name: 'client.example.org' });
  try {
    await transport.sendMail({ envelope: { from: 'carol@example.org', to: [options.to ?? 'alice@example.com'] }, raw: message(options.subject, options.to) });
  } finally {
    transport.close();
  }
}

export async function imapConnect(port: number, user = 'alice@example.com', pass = 'alice pw'): Promise<ImapFlow> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: true, auth: { user, pass }, tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true });
  await client.connect();
  return client;
}

/** A POP3 session over implicit TLS. */
export class Pop3 {
  #socket: tls.TLSSocket;
  #buffer = '';
  #waiters: Array<() => void> = [];

  private constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buffer += d;
      for (const w of this.#waiters.splice(0)) w();
    });
    socket.on('close', () => {
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async connect(port: number): Promise<{ pop: Pop3; greeting: string }> {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    const pop = new Pop3(socket);
    return { pop, greeting: await pop.#line() };
  }

  async #until(test: () => number): Promise<number> {
    for (;;) {
      const at = test();
      if (at >= 0) return at;
      if (this.#socket.destroyed) throw new Error('POP3 connection closed');
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  async #line(): Promise<string> {
    const at = await this.#until(() => this.#buffer.indexOf('\r\n'));
    const line = this.#buffer.slice(0, at);
    this.#buffer = this.#buffer.slice(at + 2);
    return line;
  }

  async command(line: string): Promise<string> {
    this.#socket.write(`${line}\r\n`);
    return this.#line();
  }

  /** A multi-line answer: the status line and the body lines (dot-unstuffed). */
  async multi(line: string): Promise<{ status: string; lines: string[] }> {
    const status = await this.command(line);
    if (!status.startsWith('+OK')) return { status, lines: [] };
    const end = await this.#until(() => (this.#buffer.startsWith('.\r\n') ? 0 : (() => {
      const i = this.#buffer.indexOf('\r\n.\r\n');
      return i < 0 ? -1 : i + 2;
    })()));
    const body = this.#buffer.slice(0, end);
    this.#buffer = this.#buffer.slice(end + 3);
    const lines = body === '' ? [] : body.slice(0, -2).split('\r\n').map((l) => (l.startsWith('..') ? l.slice(1) : l));
    return { status, lines };
  }

  close(): void {
    this.#socket.destroy();
  }
}
