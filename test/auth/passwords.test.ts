import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { hashPassword, isPasswordHash, MAX_PASSWORD_BYTES, needsRehash, passwordScheme, verifyPassword } from '../../src/auth/passwords.js';
import { sha512Crypt } from '../../src/auth/sha-crypt.js';

// Drepper, "Unix crypt using SHA-256 and SHA-512", the published SHA-512 test vectors
// (setting, password, expected crypt(3) output).
const DREPPER_VECTORS: Array<[string, string, string]> = [
  ['$6$saltstring', 'Hello world!', '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1'],
  [
    '$6$rounds=10000$saltstringsaltstring',
    'Hello world!',
    '$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.',
  ],
  [
    '$6$rounds=5000$toolongsaltstring',
    'This is just a test',
    '$6$rounds=5000$toolongsaltstrin$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0',
  ],
  [
    '$6$rounds=1400$anotherlongsaltstring',
    'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
  ],
  [
    '$6$rounds=77777$short',
    'we have a short salt string but not a short password',
    '$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0',
  ],
  [
    '$6$rounds=123456$asaltof16chars..',
    'a short string',
    '$6$rounds=123456$asaltof16chars..$BtCwjqMJGx5hrJhZywWvt0RLE8uZ4oPwcelCjmw2kSYu.Ec6ycULevoBK25fs2xXgMNrCzIMVcgEJAstJeonj1',
  ],
  [
    '$6$rounds=10$roundstoolow',
    'the minimum number is still observed',
    '$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.',
  ],
];

// `openssl passwd -6 -salt 'sälz' 'pässwörd'` (OpenSSL 3.0): UTF-8 password and salt bytes.
const OPENSSL_UTF8 = '$6$sälz$CTX9BRsizXWdKZVhDlVdozU9o3CDxCc1BcTrVSnMPFbOuxNoXP38n5568Ojn1a8BCbhwCzt2Yxm46vV3eGfEm1';
// PHP's password_verify() documentation example ("rasmuslerdorf").
const PHP_BCRYPT_2Y = '$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a';

describe('SHA-512 crypt (Drepper spec)', () => {
  for (const [setting, password, expected] of DREPPER_VECTORS) {
    test(`crypt(${JSON.stringify(password)}, ${setting}) matches the published vector`, async () => {
      assert.equal(await sha512Crypt(password, setting), expected);
    });
  }

  test('every published vector verifies as a Dovecot {SHA512-CRYPT} hash', async () => {
    for (const [, password, expected] of DREPPER_VECTORS) assert.equal(await verifyPassword(password, `{SHA512-CRYPT}${expected}`), true, expected);
  });

  test('a $6$ hash verifies bare and as {CRYPT}; a wrong password does not', async () => {
    const [, password, expected] = DREPPER_VECTORS[2] ?? ['', '', ''];
    assert.equal(await verifyPassword(password, expected), true);
    assert.equal(await verifyPassword(password, `{CRYPT}${expected}`), true);
    assert.equal(await verifyPassword(`${password}x`, expected), false);
    assert.equal(await verifyPassword(password.slice(0, -1), `{SHA512-CRYPT}${expected}`), false);
  });

  test('a UTF-8 password and salt made by openssl passwd -6 verify', async () => {
    assert.equal(await verifyPassword('pässwörd', OPENSSL_UTF8), true);
    assert.equal(await verifyPassword('passwörd', OPENSSL_UTF8), false);
  });

  test('a stored hash whose rounds would take too long is refused without being computed', async () => {
    const started = Date.now();
    const hostile = '$6$rounds=999999999$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1';
    assert.equal(await verifyPassword('Hello world!', hostile), false);
    assert.equal(isPasswordHash(hostile), false);
    assert.ok(Date.now() - started < 1000);
  });
});

describe('scrypt (our own hashes)', () => {
  test('hashPassword makes a PHC-like scrypt string that verifies only the right password', async () => {
    const stored = await hashPassword('correct horse');
    assert.match(stored, /^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    assert.equal(await verifyPassword('correct horse', stored), true);
    assert.equal(await verifyPassword('correct horsE', stored), false);
    assert.equal(await verifyPassword('', stored), false);
  });

  test('two hashes of the same password differ (random salt) and both verify', async () => {
    const [a, b] = await Promise.all([hashPassword('pässwörd ✓'), hashPassword('pässwörd ✓')]);
    assert.notEqual(a, b);
    assert.equal(await verifyPassword('pässwörd ✓', a), true);
    assert.equal(await verifyPassword('pässwörd ✓', b), true);
  });

  test('a tampered hash or hostile cost parameters never verify', async () => {
    const stored = await hashPassword('secret');
    const parts = stored.split('$');
    const hash = parts[5] ?? '';
    const flipped = (hash[0] === 'A' ? 'B' : 'A') + hash.slice(1);
    assert.equal(await verifyPassword('secret', [...parts.slice(0, 5), flipped].join('$')), false);
    assert.equal(await verifyPassword('secret', stored.replace('ln=15', 'ln=30')), false);
    assert.equal(await verifyPassword('secret', stored.replace('p=1', 'p=99')), false);
    assert.equal(await verifyPassword('secret', stored.replace('ln=15', 'ln=14')), false);
  });

  test('empty and over-long passwords cannot be hashed; over-long never verifies', async () => {
    await assert.rejects(hashPassword(''), RangeError);
    await assert.rejects(hashPassword('x'.repeat(MAX_PASSWORD_BYTES + 1)), RangeError);
    const stored = await hashPassword('x'.repeat(MAX_PASSWORD_BYTES));
    assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_BYTES), stored), true);
    assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_BYTES + 1), stored), false);
  });
});

describe('bcrypt (Dovecot BLF-CRYPT)', () => {
  test('the PHP $2y$ example verifies with and without {BLF-CRYPT}', async () => {
    assert.equal(await verifyPassword('rasmuslerdorf', PHP_BCRYPT_2Y), true);
    assert.equal(await verifyPassword('rasmuslerdorf', `{BLF-CRYPT}${PHP_BCRYPT_2Y}`), true);
    assert.equal(await verifyPassword('rasmuslerdorF', `{BLF-CRYPT}${PHP_BCRYPT_2Y}`), false);
  });

  test('$2a$ and $2b$ hashes verify', async () => {
    const b = bcrypt.hashSync('hunter2', 4);
    assert.ok(b.startsWith('$2b$'));
    assert.equal(await verifyPassword('hunter2', b), true);
    assert.equal(await verifyPassword('hunter2', b.replace('$2b$', '$2a$')), true);
    assert.equal(await verifyPassword('hunter3', b), false);
  });

  test('a bcrypt cost beyond the bound is refused', async () => {
    const hostile = PHP_BCRYPT_2Y.replace('$10$', '$31$');
    assert.equal(await verifyPassword('rasmuslerdorf', hostile), false);
    assert.equal(isPasswordHash(hostile), false);
  });
});

describe('scheme detection', () => {
  test('unknown, mismatched or malformed schemes are false, never a throw', async () => {
    const bad = [
      '',
      'secret',
      '{PLAIN}secret',
      '{MD5-CRYPT}$1$abc$def',
      '$1$saltsalt$qjXMvbEw8oaL.CzflDugX/',
      '{SHA512-CRYPT}' + PHP_BCRYPT_2Y,
      '{BLF-CRYPT}' + (DREPPER_VECTORS[0]?.[2] ?? ''),
      '$6$saltstring$tooshort',
      '$scrypt$ln=15,r=8,p=1$!!!$!!!',
      '{SHA512-CRYPT}',
      '$2y$10$short',
      'x'.repeat(100_000),
    ];
    for (const stored of bad) {
      assert.equal(await verifyPassword('secret', stored), false, stored.slice(0, 40));
      assert.equal(isPasswordHash(stored), false, stored.slice(0, 40));
    }
  });

  test('isPasswordHash and passwordScheme recognise each supported form', async () => {
    const ours = await hashPassword('a');
    const sha = DREPPER_VECTORS[0]?.[2] ?? '';
    assert.equal(passwordScheme(ours), 'scrypt');
    assert.equal(passwordScheme(sha), 'sha512-crypt');
    assert.equal(passwordScheme(`{SHA512-CRYPT}${sha}`), 'sha512-crypt');
    assert.equal(passwordScheme(`{sha512-crypt}${sha}`), 'sha512-crypt');
    assert.equal(passwordScheme(`{BLF-CRYPT}${PHP_BCRYPT_2Y}`), 'bcrypt');
    assert.equal(passwordScheme(PHP_BCRYPT_2Y), 'bcrypt');
    for (const s of [ours, sha, `{SHA512-CRYPT}${sha}`, PHP_BCRYPT_2Y, `{BLF-CRYPT}${PHP_BCRYPT_2Y}`]) assert.equal(isPasswordHash(s), true, s);
  });

  test('needsRehash is true for imported schemes and false for a current scrypt hash', async () => {
    const ours = await hashPassword('a');
    assert.equal(needsRehash(ours), false);
    assert.equal(needsRehash(`{SHA512-CRYPT}${DREPPER_VECTORS[0]?.[2] ?? ''}`), true);
    assert.equal(needsRehash(PHP_BCRYPT_2Y), true);
    assert.equal(needsRehash('{PLAIN}x'), true);
  });
});
