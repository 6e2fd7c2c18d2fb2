// Slow and greedy clients against the real servers on loopback: idle and partial-line timeouts,
// a 1 GB literal announced, 100,000 recipients, thousands of connections from one address. Each
// gets a clear refusal (BYE / 421 / -ERR / NO / 452) and the server keeps serving others.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpServer } from '../../src/smtp/server.js';
import { startPop3Server } from '../../src/pop3/server.js';
import type { RunningService } from '../../src/shared/service.js';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { LineClient } from './line-client.js';

const USER = 'greedy@hostile.test';
const PASS = 'greedy password';
const MAX_PER_ADDRESS = 20;
const MAX_RECIPIENTS = 50;

let pigeon: TestPigeon;
/** Extra SMTP and POP3 servers on the same store with a 300 ms idle timeout. */
let quick: RunningService[] = [];
const quickPorts: Record<string, number> = {};

before(async () => {
  pigeon = await startTestPigeon({
    // No HTTP listeners here (the console has its own tests).
    listen: { http: '', https: '' },
    auth: { allow_plaintext: true },
    limits: { max_connections_per_address: MAX_PER_ADDRESS, max_recipients: MAX_RECIPIENTS },
  });
  await pigeon.addUser(USER, PASS);
  // A catch-all, so 100,000 distinct recipients are all local.
  await pigeon.store.addAlias('@hostile.test', [USER]);
  const deps = { config: { ...pigeon.config, listen: { ...pigeon.config.listen, submission: '', submissions: '', pop3s: '' } }, store: pigeon.store, authenticator: pigeon.authenticator, tls: pigeon.tls, logger: pigeon.logger };
  quick = [await startSmtpServer({ ...deps, idleTimeoutMs: 300 }), await startPop3Server({ ...deps, idleTimeoutMs: 300 })];
  for (const s of quick) for (const l of s.listening) quickPorts[l.listener] = l.port;
});

after(async () => {
  await Promise.allSettled(quick.map((s) => s.close({ timeoutMs: 0 })));
  await pigeon.close({ timeoutMs: 0 });
});

async function imapLogin(c: LineClient): Promise<void> {
  await c.next();
  assert.match((await c.imap('l', `LOGIN "${USER}" "${PASS}"`)).done, /^l OK/);
}

describe('idle and partial-line timeouts', () => {
  test('SMTP: a silent client and a client stuck mid-line get 421 and are disconnected', async () => {
    const silent = await LineClient.connect(quickPorts['smtp']!);
    assert.match(await silent.smtp(null), /^220 /);
    const partial = await LineClient.connect(quickPorts['smtp']!);
    assert.match(await partial.smtp(null), /^220 /);
    partial.write('EHLO half-a-li');
    assert.match(await silent.smtp(null, 5000), /^421 /);
    await silent.waitClosed(5000);
    assert.match(await partial.smtp(null, 5000), /^421 /);
    await partial.waitClosed(5000);
  });

  test('POP3: a silent client and a client stuck mid-line are disconnected', async () => {
    for (const write of ['', 'USER greedy@hos']) {
      const c = await LineClient.connect(quickPorts['pop3']!);
      assert.match(await c.next(), /^\+OK/);
      if (write) c.write(write);
      await c.waitClosed(5000);
      // RFC 1939 §3: the autologout timer closes without a response, or with -ERR.
      assert.ok(c.lines.slice(1).every((l) => l.startsWith('-ERR')), JSON.stringify(c.lines));
    }
  });

  test('IMAP: before login, a silent client and a client stuck mid-line get BYE and are disconnected', async () => {
    const slow = await startTestPigeon({ listen: { http: '', https: '' }, imap: { preauth_timeout_seconds: 1 } });
    try {
      for (const write of ['', 'a LOGIN greedy@hos']) {
        const c = await LineClient.connect(slow.ports['imap']!);
        assert.match(await c.next(), /^\* OK/);
        if (write) c.write(write);
        await c.waitClosed(5000);
        assert.ok(c.lines.slice(1).some((l) => /^\* BYE/.test(l)), JSON.stringify(c.lines));
      }
    } finally {
      await slow.close({ timeoutMs: 0 });
    }
  });
});

describe('oversized announcements', () => {
  test('IMAP: a 1 GB synchronising literal is refused without a continuation, and the connection goes on', async () => {
    const c = await LineClient.connect(pigeon.ports['imap']!);
    await imapLogin(c);
    const r = await c.imap('big', 'APPEND INBOX {1073741824}');
    assert.match(r.done, /^big (NO|BAD) \[TOOBIG\]/);
    assert.ok(!r.lines.some((l) => l.startsWith('+')), 'a continuation was sent for a 1 GB literal');
    assert.match((await c.imap('n', 'NOOP')).done, /^n OK/);
    c.close();
  });

  test('IMAP: a 1 GB non-synchronising literal is refused and the connection closed (RFC 7888 §4)', async () => {
    const c = await LineClient.connect(pigeon.ports['imap']!);
    await imapLogin(c);
    c.write('big APPEND INBOX {1073741824+}\r\n');
    c.write(Buffer.alloc(64 * 1024, 0x41));
    assert.match(await c.until(/^(big|\*) (NO|BAD|BYE)/), /TOOBIG|too large|literal/i);
    await c.waitClosed(5000);
  });

  test('SMTP: MAIL FROM with SIZE=1 GB gets 552 and the session goes on', async () => {
    const c = await LineClient.connect(pigeon.ports['smtp']!);
    await c.smtp(null);
    await c.smtp('EHLO greedy.test');
    assert.match(await c.smtp('MAIL FROM:<a@elsewhere.test> SIZE=1073741824'), /^552 /);
    assert.match(await c.smtp('MAIL FROM:<a@elsewhere.test> SIZE=100'), /^250 /);
    c.close();
  });

  test(`SMTP: 100,000 pipelined RCPT TO are refused after ${MAX_RECIPIENTS}, and another client is served meanwhile`, async () => {
    const c = await LineClient.connect(pigeon.ports['smtp']!, { timeoutMs: 60_000 });
    await c.smtp(null);
    await c.smtp('EHLO greedy.test');
    assert.match(await c.smtp('MAIL FROM:<a@elsewhere.test>'), /^250 /);
    const total = 100_000;
    const batch = 2000;
    let accepted = 0;
    let refused = 0;
    let other = 0;
    for (let sent = 0; sent < total && !c.closed; sent += batch) {
      c.write(Array.from({ length: batch }, (_, i) => `RCPT TO:<r${sent + i}@hostile.test>\r\n`).join(''));
      for (let i = 0; i < batch; i++) {
        const line = await c.smtp(null).catch(() => null);
        if (line === null) break;
        if (line.startsWith('250')) accepted++;
        else if (/^452 /.test(line)) refused++;
        else other++;
        if (line.startsWith('421')) break;
      }
      if (sent === 0) {
        const bystander = await LineClient.connect(pigeon.ports['smtp']!, { localAddress: '127.0.0.2' });
        assert.match(await bystander.smtp(null), /^220 /);
        assert.match(await bystander.smtp('EHLO bystander.test'), /^250 /);
        assert.match(await bystander.smtp('NOOP'), /^250 /);
        bystander.close();
      }
    }
    assert.equal(accepted, MAX_RECIPIENTS);
    // Refused one by one (452 4.5.3, RFC 5321 §4.5.3.1.10), or the abuser is cut off with 421.
    assert.ok(refused + other > 0);
    assert.ok(refused + accepted + other <= total);
    c.close();
  });
});

describe('thousands of connections from one address', () => {
  const sources = { imap: '127.0.0.10', smtp: '127.0.0.11', pop3: '127.0.0.12' };
  for (const proto of ['imap', 'smtp', 'pop3'] as const) {
    test(`${proto}: beyond ${MAX_PER_ADDRESS} connections per address the rest are refused politely; another address is still served`, async () => {
      const count = proto === 'imap' ? 1000 : 300;
      const clients = await Promise.all(Array.from({ length: count }, () => LineClient.connect(pigeon.ports[proto]!, { localAddress: sources[proto], timeoutMs: 20_000 }).catch(() => null)));
      try {
        const firsts = await Promise.all(clients.map((c) => (c ? c.next().catch(() => '(closed)') : Promise.resolve('(refused at connect)'))));
        const greeted = firsts.filter((l) => (proto === 'smtp' ? /^220 /.test(l) : proto === 'imap' ? /^\* OK/.test(l) : /^\+OK/.test(l))).length;
        const refusals = firsts.filter((l) => (proto === 'smtp' ? /^421 /.test(l) : proto === 'imap' ? /^\* BYE/.test(l) : /^-ERR/.test(l)));
        assert.equal(greeted, MAX_PER_ADDRESS, `greeted ${greeted}: ${JSON.stringify([...new Set(firsts)])}`);
        assert.equal(refusals.length, count - MAX_PER_ADDRESS, `refusals: ${JSON.stringify([...new Set(firsts)])}`);
        // The refused ones are closed by the server.
        await Promise.all(clients.filter((c, i) => c && firsts[i] !== undefined && refusals.includes(firsts[i]!)).map((c) => c!.waitClosed(10_000)));
        // Another address gets in while these are held.
        const other = await LineClient.connect(pigeon.ports[proto]!, { localAddress: '127.0.0.3' });
        assert.match(await other.next(), proto === 'smtp' ? /^220 / : proto === 'imap' ? /^\* OK/ : /^\+OK/);
        other.close();
      } finally {
        for (const c of clients) c?.close();
      }
    });
  }
});
