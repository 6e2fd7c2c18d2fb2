// A minimal SMTP server standing in for the remote side (smarthost) of the outbound queue: it
// accepts every envelope and records each message it answered 250 to, by Message-ID. `hold`
// decides, per session (by its EHLO name), to swallow DATA without ever answering — a node that
// dies there has not delivered the message.
import net from 'node:net';
import { EventEmitter } from 'node:events';

export interface SinkMessage {
  ehlo: string;
  messageId: string;
  rcpt: string[];
}

export class SmtpSink extends EventEmitter {
  readonly delivered: SinkMessage[] = [];
  #server: net.Server;
  #sockets = new Set<net.Socket>();
  #hold: (ehlo: string) => boolean;

  private constructor(hold: (ehlo: string) => boolean) {
    super();
    this.#hold = hold;
    this.#server = net.createServer((s) => this.#session(s));
  }

  static async start(options: { hold?: (ehlo: string) => boolean } = {}): Promise<SmtpSink> {
    const sink = new SmtpSink(options.hold ?? (() => false));
    await new Promise<void>((resolve) => sink.#server.listen(0, '127.0.0.1', resolve));
    return sink;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  #session(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('latin1');
    let ehlo = '';
    let rcpt: string[] = [];
    let data: string | null = null;
    let buffer = '';
    const reply = (line: string) => socket.write(`${line}\r\n`);
    reply('220 sink.example.net ESMTP');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > 10 * 1024 * 1024) socket.destroy();
      for (;;) {
        if (data !== null) {
          const end = buffer.indexOf('\r\n.\r\n');
          if (end < 0) return;
          data += buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 5);
          const messageId = /^Message-ID:\s*(\S+)/im.exec(data)?.[1] ?? '';
          data = null;
          if (this.#hold(ehlo)) {
            this.emit('held', { ehlo, messageId });
            return; // never answers: the sender hangs here until it dies
          }
          const m = { ehlo, messageId, rcpt };
          this.delivered.push(m);
          rcpt = [];
          reply('250 2.0.0 queued');
          this.emit('delivered', m);
          continue;
        }
        const nl = buffer.indexOf('\r\n');
        if (nl < 0) return;
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') {
          ehlo = line.slice(5).trim();
          reply(verb === 'EHLO' ? '250-sink.example.net\r\n250 8BITMIME' : '250 sink.example.net');
        } else if (verb === 'MAIL') {
          rcpt = [];
          reply('250 2.1.0 ok');
        } else if (verb === 'RCPT') {
          rcpt.push(/<([^>]*)>/.exec(line)?.[1] ?? '');
          reply('250 2.1.5 ok');
        } else if (verb === 'DATA') {
          data = '';
          reply('354 go ahead');
        } else if (verb === 'QUIT') {
          reply('221 bye');
          socket.end();
          return;
        } else if (verb === 'RSET' || verb === 'NOOP') reply('250 ok');
        else reply('502 5.5.1 not implemented');
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
