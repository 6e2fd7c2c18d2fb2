import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import bcrypt from 'bcryptjs';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { Authenticator, type AuthRequest } from '../../src/auth/authenticator.js';
import { hashPassword, passwordScheme, verifyPassword } from '../../src/auth/passwords.js';

const auth = { allow_plaintext: false, failure_delay_ms: 0, max_failure_delay_ms: 0, lockout_failures: 3, lockout_seconds: 60 };
const IMPORTED_SHA512 = '{SHA512-CRYPT}$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';

function captureLogger(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = pino({ level: 'info' }, sink);
  const raw = (): string => chunks.join('');
  return {
    logger,
    raw,
    lines: () =>
      raw()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('Authenticator against the SQLite store', () => {
  let dir: string;
  let store: Store;
  let aliceId: number;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
    store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
    await store.addDomain('example.com');
    const alice = await store.createAccount({ email: 'alice@example.com', passwordHash: await hashPassword('alice-secret') });
    aliceId = alice.id;
    await store.createAccount({ email: 'bob@example.com', passwordHash: await hashPassword('bob-secret') });
    await store.createAccount({ email: 'carol@example.com', passwordHash: IMPORTED_SHA512 });
    await store.createAccount({ email: 'dave@example.com', passwordHash: `{BLF-CRYPT}${bcrypt.hashSync('dave-secret', 4).replace('$2b$', '$2y$')}` });
    await store.addAlias('postmaster@example.com', ['alice@example.com']);
    await store.addAlias('team@example.com', ['alice@example.com', 'bob@example.com']);
    await store.addAlias('outside@example.com', ['someone@elsewhere.example']);
  });

  after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const req = (username: string, password: string, remoteAddress = '192.0.2.10'): AuthRequest => ({ username, password, remoteAddress, protocol: 'imap' });

  test('the full address with the right password logs in, domain case-insensitive', async () => {
    const a = new Authenticator(store, { auth });
    const r1 = await a.authenticate(req('alice@example.com', 'alice-secret'));
    assert.equal(r1.ok && r1.account.id, aliceId);
    const r2 = await a.authenticate(req('alice@EXAMPLE.Com', 'alice-secret'));
    assert.equal(r2.ok && r2.account.id, aliceId);
  });

  test('a wrong password, an unknown user and a bare local part are refused as invalid', async () => {
    const a = new Authenticator(store, { auth: { ...auth, lockout_failures: 100 } });
    assert.deepEqual(await a.authenticate(req('alice@example.com', 'wrong')), { ok: false, reason: 'invalid' });
    assert.deepEqual(await a.authenticate(req('nobody@example.com', 'alice-secret')), { ok: false, reason: 'invalid' });
    assert.deepEqual(await a.authenticate(req('alice', 'alice-secret')), { ok: false, reason: 'invalid' });
    assert.deepEqual(await a.authenticate(req('', '')), { ok: false, reason: 'invalid' });
    assert.deepEqual(await a.authenticate(req('alice@example.com', 'x'.repeat(5000))), { ok: false, reason: 'invalid' });
  });

  test('an alias resolving to exactly one local account logs in as that account', async () => {
    const a = new Authenticator(store, { auth });
    const r = await a.authenticate(req('Postmaster@Example.com', 'alice-secret'));
    assert.equal(r.ok && r.account.email, 'alice@example.com');
  });

  test('an alias with several targets, or a remote target, does not log in', async () => {
    const a = new Authenticator(store, { auth: { ...auth, lockout_failures: 100 } });
    assert.deepEqual(await a.authenticate(req('team@example.com', 'alice-secret')), { ok: false, reason: 'invalid' });
    assert.deepEqual(await a.authenticate(req('outside@example.com', 'alice-secret')), { ok: false, reason: 'invalid' });
  });

  test('after lockout_failures failures the address is locked: answered at once, even with the right password', async () => {
    const clock = new ManualClock();
    const a = new Authenticator(store, { auth, clock });
    for (let i = 0; i < 3; i++) assert.deepEqual(await a.authenticate(req('bob@example.com', `guess${i}`, '198.51.100.1')), { ok: false, reason: 'invalid' });
    assert.deepEqual(await a.authenticate(req('bob@example.com', 'bob-secret', '198.51.100.1')), { ok: false, reason: 'locked', retryAfterSeconds: 60 });
    // The account is locked too (3 failures on it), from any address.
    assert.equal((await a.authenticate(req('bob@example.com', 'bob-secret', '203.0.113.5'))).ok, false);
    clock.advance(60_000);
    const r = await a.authenticate(req('bob@example.com', 'bob-secret', '198.51.100.1'));
    assert.equal(r.ok, true);
  });

  test('a failure waits the progressive delay through the injected sleep', async () => {
    const slept: number[] = [];
    const a = new Authenticator(store, {
      auth: { ...auth, failure_delay_ms: 100, max_failure_delay_ms: 300, lockout_failures: 10 },
      sleep: async (ms) => {
        slept.push(ms);
      },
    });
    for (let i = 0; i < 4; i++) await a.authenticate(req('alice@example.com', 'wrong', '198.51.100.77'));
    assert.deepEqual(slept, [100, 200, 300, 300]);
    await a.authenticate(req('alice@example.com', 'alice-secret', '198.51.100.77'));
    assert.deepEqual(slept, [100, 200, 300, 300]);
  });

  test('an unknown user costs about as much as a wrong password (a dummy hash is verified)', async () => {
    const a = new Authenticator(store, { auth: { ...auth, lockout_failures: 100 } });
    await a.authenticate(req('nobody@example.com', 'warm-up')); // builds the dummy hash once
    const time = async (username: string): Promise<number> => {
      const t = process.hrtime.bigint();
      await a.authenticate(req(username, 'wrong'));
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 3; i++) {
      known.push(await time('alice@example.com'));
      unknown.push(await time(`nobody${i}@example.com`));
    }
    const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[1] ?? 0;
    // scrypt dominates both; an unverified unknown user would take well under a millisecond.
    assert.ok(median(unknown) > median(known) * 0.3, `unknown ${median(unknown)}ms vs known ${median(known)}ms`);
  });

  test('failures are logged with protocol, address and username, never the password', async () => {
    const cap = captureLogger();
    const a = new Authenticator(store, { auth: { ...auth, lockout_failures: 100 }, logger: cap.logger });
    await a.authenticate({ username: 'alice@example.com', password: 'Sup3r-S3cret-Guess', remoteAddress: '192.0.2.99', protocol: 'pop3' });
    await a.authenticate({ username: 'ghost@example.com', password: 'Sup3r-S3cret-Guess', remoteAddress: '192.0.2.99', protocol: 'smtp' });
    const failures = cap.lines().filter((l) => l['msg'] === 'login failed');
    assert.deepEqual(
      failures.map((l) => [l['protocol'], l['remoteAddress'], l['username']]),
      [
        ['pop3', '192.0.2.99', 'alice@example.com'],
        ['smtp', '192.0.2.99', 'ghost@example.com'],
      ],
    );
    assert.equal(cap.raw().includes('Sup3r-S3cret-Guess'), false);
  });

  test('an imported SHA512-CRYPT or BLF-CRYPT hash logs in and is upgraded to scrypt', async () => {
    const a = new Authenticator(store, { auth });
    const carol = await a.authenticate(req('carol@example.com', 'Hello world!'));
    assert.equal(carol.ok, true);
    const stored = (await store.getAccountByEmail('carol@example.com'))?.passwordHash ?? '';
    assert.equal(passwordScheme(stored), 'scrypt');
    assert.equal(await verifyPassword('Hello world!', stored), true);
    const dave = await a.authenticate(req('dave@example.com', 'dave-secret'));
    assert.equal(dave.ok && passwordScheme(dave.account.passwordHash), 'scrypt');
    assert.equal((await a.authenticate(req('dave@example.com', 'dave-secret'))).ok, true);
  });
});
