// Password guessing across IMAP, POP3, SMTP and HTTP (the push Subscribe URL's Basic auth; the
// console sign-in joins when it exists) feeds one shared throttle (src/auth/throttle.ts), per
// client address and per account. Every failure and lockout is logged with its protocol; a
// locked-out user is told why in each protocol's own words (IMAP NO [UNAVAILABLE], POP3 -ERR
// [SYS/TEMP], SMTP 454 4.7.0, HTTP 429).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildConfig } from '../../src/config/load.js';
import { startPigeon, type Pigeon } from '../../src/main.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { buildHttpsApp } from '../../src/http/app.js';
import { LineClient } from './line-client.js';

const USER = 'victim@abuse.test';
const PASS = 'the right password';
const LOCKOUT = 5;
const logs: Array<Record<string, unknown>> = [];
let pigeon: Pigeon;
let app: FastifyInstance;
const ports: Record<string, number> = {};

before(async () => {
  const listen: Record<string, string> = { http: '', https: '', submission: '', submissions: '', imaps: '', pop3s: '' };
  for (const k of ['smtp', 'imap', 'pop3']) listen[k] = '127.0.0.1:0';
  const config = buildConfig(
    {
      hostname: 'mail.abuse.test',
      data_dir: mkdtempSync(join(tmpdir(), 'pigeon-')),
      listen,
      auth: { allow_plaintext: true, failure_delay_ms: 0, max_failure_delay_ms: 0, lockout_failures: LOCKOUT, lockout_seconds: 600 },
      log: { level: 'info' },
    },
    { env: {} },
  );
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  pigeon = await startPigeon(config, { logger });
  for (const s of pigeon.services) for (const l of s.listening) ports[l.listener] = l.port;
  await pigeon.store.addDomain('abuse.test');
  await pigeon.store.createAccount({ email: USER, passwordHash: await hashPassword(PASS) });
  app = await buildHttpsApp({ config, store: pigeon.store, logger, authenticator: pigeon.authenticator, push: pigeon.push });
  await app.ready();
});

after(async () => {
  await app.close();
  await pigeon.close({ timeoutMs: 0 });
});

type Outcome = 'ok' | 'invalid' | 'locked';

async function imapLogin(from: string, user: string, pass: string): Promise<{ outcome: Outcome; line: string }> {
  const c = await LineClient.connect(ports['imap']!, { localAddress: from });
  try {
    await c.next();
    const { done } = await c.imap('a', `LOGIN "${user}" "${pass}"`);
    return { outcome: /^a OK/.test(done) ? 'ok' : /\[UNAVAILABLE\]/.test(done) ? 'locked' : 'invalid', line: done };
  } finally {
    c.close();
  }
}

async function pop3Login(from: string, user: string, pass: string): Promise<{ outcome: Outcome; line: string }> {
  const c = await LineClient.connect(ports['pop3']!, { localAddress: from });
  try {
    await c.next();
    c.write(`USER ${user}\r\n`);
    await c.next();
    c.write(`PASS ${pass}\r\n`);
    const line = await c.next();
    return { outcome: line.startsWith('+OK') ? 'ok' : /\[SYS\/TEMP\]/.test(line) ? 'locked' : 'invalid', line };
  } finally {
    c.close();
  }
}

async function smtpLogin(from: string, user: string, pass: string): Promise<{ outcome: Outcome; line: string }> {
  const c = await LineClient.connect(ports['smtp']!, { localAddress: from });
  try {
    await c.smtp(null);
    await c.smtp('EHLO guesser.test');
    const line = await c.smtp(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}`);
    return { outcome: line.startsWith('235') ? 'ok' : /^454 4\.7\.0/.test(line) ? 'locked' : 'invalid', line };
  } finally {
    c.close();
  }
}

async function httpLogin(from: string, user: string, pass: string): Promise<{ outcome: Outcome; line: string }> {
  const res = await app.inject({ method: 'POST', url: '/push/v1/abuse.test/subscriptions', remoteAddress: from, headers: { authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`, 'content-type': 'application/json' }, payload: '{}' });
  const line = `${res.statusCode} ${res.body}`;
  return { outcome: res.statusCode === 429 ? 'locked' : res.statusCode === 401 ? 'invalid' : 'ok', line };
}

const logins = { imap: imapLogin, pop3: pop3Login, smtp: smtpLogin, http: httpLogin };

describe('authentication abuse', () => {
  test('guesses from one address across IMAP, POP3, SMTP and HTTP lock that address out of every protocol; others still log in', async () => {
    const guesser = '127.0.0.20';
    const order = ['imap', 'pop3', 'smtp', 'http', 'imap'] as const;
    for (const [i, proto] of order.entries()) {
      const r = await logins[proto](guesser, `nobody${i}@abuse.test`, `guess ${i}`);
      assert.equal(r.outcome, 'invalid', `${proto} guess ${i}: ${r.line}`);
    }
    // Locked by address: even the right password is refused, in each protocol's own words.
    for (const proto of ['imap', 'pop3', 'smtp', 'http'] as const) {
      const r = await logins[proto](guesser, USER, PASS);
      assert.equal(r.outcome, 'locked', `${proto}: ${r.line}`);
    }
    // The real user, from another address, is not affected.
    assert.equal((await imapLogin('127.0.0.21', USER, PASS)).outcome, 'ok');
    const failures = logs.filter((l) => l['msg'] === 'login failed' && l['remoteAddress'] === guesser);
    assert.deepEqual([...new Set(failures.map((l) => l['protocol']))].sort(), ['http', 'imap', 'pop3', 'smtp'].map((p) => (p === 'http' ? 'push' : p)).sort());
    assert.ok(logs.some((l) => l['msg'] === 'login refused: locked out' && l['remoteAddress'] === guesser && l['by'] === 'address'));
    assert.ok(failures.every((l) => !JSON.stringify(l).includes('guess')), 'a guessed password reached the log');
  });

  test('guesses at one account from many addresses lock the account; the real user is told why over IMAP, POP3, SMTP and HTTP', async () => {
    const order = ['imap', 'pop3', 'smtp', 'http', 'pop3'] as const;
    for (const [i, proto] of order.entries()) {
      const r = await logins[proto](`127.0.0.${30 + i}`, USER, `wrong ${i}`);
      assert.equal(r.outcome, 'invalid', `${proto} guess ${i}: ${r.line}`);
    }
    const real = '127.0.0.40';
    const imap = await imapLogin(real, USER, PASS);
    assert.match(imap.line, /^a NO \[UNAVAILABLE\] .*(failed logins|try again)/i);
    const pop3 = await pop3Login(real, USER, PASS);
    assert.match(pop3.line, /^-ERR \[SYS\/TEMP\] .*try again/i);
    const smtp = await smtpLogin(real, USER, PASS);
    assert.match(smtp.line, /^454 4\.7\.0 .*try again/i);
    const http = await httpLogin(real, USER, PASS);
    assert.equal(http.outcome, 'locked', http.line);
    assert.ok(logs.some((l) => l['msg'] === 'login refused: locked out' && l['username'] === USER && l['by'] === 'account' && l['remoteAddress'] === real));
  });
});
