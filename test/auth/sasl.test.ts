import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeBase64Strict,
  decodePlain,
  isSaslMechanism,
  parseSaslMechanism,
  LOGIN_PASSWORD_CHALLENGE,
  LOGIN_USERNAME_CHALLENGE,
  MAX_SASL_RESPONSE_LENGTH,
  SaslExchange,
} from '../../src/auth/sasl.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('strict base64', () => {
  const cases: Array<[string, string | null]> = [
    ['dGVzdA==', 'test'],
    ['dGVzdDE=', 'test1'],
    ['dGVzdDEy', 'test12'],
    ['=', ''],
    ['', ''],
    ['dGVzdA', null], // missing padding
    ['dGVz dA==', null], // whitespace
    ['dGVzdA=', null],
    ['dGVzdB==', null], // non-zero unused bits: not canonical
    ['dGVz*A==', null],
    ['dGVzdA==dGVzdA==', null], // padding inside
    ['==', null],
  ];
  for (const [input, expected] of cases) {
    test(`${JSON.stringify(input)} → ${expected === null ? 'refused' : JSON.stringify(expected)}`, () => {
      const out = decodeBase64Strict(input);
      assert.equal(out === null ? null : out.toString('utf8'), expected);
    });
  }
  test('a response longer than the bound is refused', () => {
    assert.equal(decodeBase64Strict('A'.repeat(MAX_SASL_RESPONSE_LENGTH + 4)), null);
  });
});

describe('PLAIN (RFC 4616)', () => {
  test('empty authzid: authcid and password come back', () => {
    assert.deepEqual(decodePlain(b64('\0tim@example.com\0tanstaaftanstaaf')), { authzid: '', authcid: 'tim@example.com', password: 'tanstaaftanstaaf' });
  });
  test('authzid equal to authcid is accepted', () => {
    assert.deepEqual(decodePlain(b64('tim\0tim\0pw')), { authzid: 'tim', authcid: 'tim', password: 'pw' });
  });
  test('authzid naming another user is refused', () => {
    assert.equal(decodePlain(b64('Ursel\0Kurt\0xipj3plmq')), null);
  });
  test('UTF-8 fields are decoded; invalid UTF-8 is refused', () => {
    assert.deepEqual(decodePlain(b64('\0jörg@example.com\0pässwörd')), { authzid: '', authcid: 'jörg@example.com', password: 'pässwörd' });
    assert.equal(decodePlain(Buffer.from([0, 0x61, 0, 0xff, 0xfe]).toString('base64')), null);
  });
  test('wrong number of NULs, empty authcid or empty password are refused', () => {
    for (const raw of ['tim', '\0tim', '\0tim\0pw\0', '\0\0pw', '\0tim\0', '']) assert.equal(decodePlain(b64(raw)), null, JSON.stringify(raw));
  });
  test('bad base64 is refused', () => {
    assert.equal(decodePlain('AHRpbQBwdw'), null);
    assert.equal(decodePlain('not base64!'), null);
  });
  test('a field longer than the bound is refused', () => {
    assert.equal(decodePlain(b64(`\0tim\0${'p'.repeat(2000)}`)), null);
  });
});

describe('SaslExchange', () => {
  test('PLAIN with an initial response finishes at once', () => {
    const x = new SaslExchange('PLAIN');
    assert.deepEqual(x.begin(b64('\0a@example.com\0pw')), { kind: 'done', username: 'a@example.com', password: 'pw' });
    assert.deepEqual(x.respond(b64('\0a@example.com\0pw')), { kind: 'fail', reason: 'malformed' });
  });
  test('PLAIN without an initial response sends an empty challenge first', () => {
    const x = new SaslExchange('PLAIN');
    assert.deepEqual(x.begin(), { kind: 'challenge', challenge: '' });
    assert.deepEqual(x.respond(b64('\0a@example.com\0pw')), { kind: 'done', username: 'a@example.com', password: 'pw' });
  });
  test('PLAIN with the empty initial response "=" is malformed (PLAIN needs credentials)', () => {
    assert.deepEqual(new SaslExchange('PLAIN').begin('='), { kind: 'fail', reason: 'malformed' });
  });
  test('LOGIN prompts for Username: then Password:', () => {
    const x = new SaslExchange('LOGIN');
    assert.deepEqual(x.begin(), { kind: 'challenge', challenge: LOGIN_USERNAME_CHALLENGE });
    assert.equal(Buffer.from(LOGIN_USERNAME_CHALLENGE, 'base64').toString(), 'Username:');
    assert.deepEqual(x.respond(b64('a@example.com')), { kind: 'challenge', challenge: LOGIN_PASSWORD_CHALLENGE });
    assert.equal(Buffer.from(LOGIN_PASSWORD_CHALLENGE, 'base64').toString(), 'Password:');
    assert.deepEqual(x.respond(b64('pässwörd')), { kind: 'done', username: 'a@example.com', password: 'pässwörd' });
  });
  test('LOGIN with an initial response (SMTP AUTH LOGIN <user>) asks only for the password', () => {
    const x = new SaslExchange('LOGIN');
    assert.deepEqual(x.begin(b64('a@example.com')), { kind: 'challenge', challenge: LOGIN_PASSWORD_CHALLENGE });
    assert.deepEqual(x.respond(b64('pw')), { kind: 'done', username: 'a@example.com', password: 'pw' });
  });
  test('"*" cancels the exchange (RFC 4954 §4, RFC 9051 §6.2.2)', () => {
    const x = new SaslExchange('LOGIN');
    x.begin();
    assert.deepEqual(x.respond('*'), { kind: 'fail', reason: 'cancelled' });
    assert.deepEqual(x.respond(b64('a')), { kind: 'fail', reason: 'malformed' });
  });
  test('bad base64 or a NUL inside a LOGIN field fails the exchange', () => {
    const x = new SaslExchange('LOGIN');
    x.begin();
    assert.deepEqual(x.respond('%%%'), { kind: 'fail', reason: 'malformed' });
    const y = new SaslExchange('LOGIN');
    y.begin();
    assert.deepEqual(y.respond(b64('a\0b')), { kind: 'fail', reason: 'malformed' });
  });
  test('mechanism names are matched case-insensitively', () => {
    assert.equal(isSaslMechanism('plain'), true);
    assert.equal(isSaslMechanism('LOGIN'), true);
    assert.equal(isSaslMechanism('CRAM-MD5'), false);
    assert.equal(parseSaslMechanism('login'), 'LOGIN');
    assert.equal(parseSaslMechanism('XOAUTH2'), null);
  });
});
