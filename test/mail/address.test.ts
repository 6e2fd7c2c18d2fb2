import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeAddress, parseAddress, parseAddressList } from '../../src/mail/address.js';
import type { EnvelopeAddress } from '../../src/mail/types.js';

const a = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null): EnvelopeAddress => ({
  name,
  adl,
  mailbox,
  host,
});

describe('parseAddressList (RFC 5322 §3.4)', () => {
  const cases: Array<[string, string, EnvelopeAddress[] | null]> = [
    ['a bare addr-spec', 'user@example.org', [a(null, 'user', 'example.org')]],
    ['a display name', 'John Doe <john@example.org>', [a('John Doe', 'john', 'example.org')]],
    ['a quoted name with comma and escapes', '"Doe, \\"J\\"" <j@x.org>', [a('Doe, "J"', 'j', 'x.org')]],
    ['an old-style comment as the name', 'j@x.org (John Doe)', [a('John Doe', 'j', 'x.org')]],
    ['comments inside are dropped', 'John (the man) <j(c)@x.org>', [a('John', 'j', 'x.org')]],
    ['RFC 2047 names stay raw', '=?utf-8?Q?J=C3=B6rg?= <j@x.de>', [a('=?utf-8?Q?J=C3=B6rg?=', 'j', 'x.de')]],
    ['a quoted local part keeps its quotes', '"john doe"@x.org', [a(null, '"john doe"', 'x.org')]],
    ['a domain literal', 'u@[192.0.2.1]', [a(null, 'u', '[192.0.2.1]')]],
    ['obs-phrase with a dot', 'John Q. Public <jqp@x.org>', [a('John Q. Public', 'jqp', 'x.org')]],
    ['a route address', '<@a.example,@b.example:u@c.example>', [a(null, 'u', 'c.example', '@a.example,@b.example')]],
    [
      'a list with empty members',
      'a@x.org, , b@y.org,',
      [a(null, 'a', 'x.org'), a(null, 'b', 'y.org')],
    ],
    [
      'a group with members',
      'Team: a@x.org, B <b@x.org>;',
      [a(null, 'Team', null), a(null, 'a', 'x.org'), a('B', 'b', 'x.org'), a(null, null, null)],
    ],
    ['an empty group', 'undisclosed-recipients:;', [a(null, 'undisclosed-recipients', null), a(null, null, null)]],
    ['an unterminated group is closed', 'G: a@x.org', [a(null, 'G', null), a(null, 'a', 'x.org'), a(null, null, null)]],
    ['a missing domain is a placeholder, never a group marker', 'John <john>', [a('John', 'john', 'MISSING_DOMAIN')]],
    ['an unterminated angle address', 'X <x@y.org', [a('X', 'x', 'y.org')]],
    ['an unterminated quote', '"Bad <b@x.org>', [a(null, 'Bad <b@x.org>', 'MISSING_DOMAIN')]],
    ['an empty value is NIL', '   ', null],
    ['only a comment is NIL', '(nobody)', null],
    ['8-bit names (RFC 6532)', 'Jürgen <jürgen@bücher.de>', [a('Jürgen', 'jürgen', 'bücher.de')]],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.deepEqual(parseAddressList(input), expected));
  }

  test('the number of addresses is bounded', () => {
    const list = parseAddressList(Array.from({ length: 20_000 }, (_, i) => `u${i}@x.org`).join(','));
    assert.equal(list?.length, 10_000);
  });
});

describe('parseAddress and normalizeAddress', () => {
  const valid: Array<[string, { local: string; domain: string }]> = [
    ['user@example.org', { local: 'user', domain: 'example.org' }],
    ['<User.Name+tag@Example.ORG>', { local: 'User.Name+tag', domain: 'Example.ORG' }],
    ['Name <a@b.example>', { local: 'a', domain: 'b.example' }],
    ['"quoted local"@example.org', { local: '"quoted local"', domain: 'example.org' }],
    ['u@[192.0.2.1]', { local: 'u', domain: '[192.0.2.1]' }],
    ['pelé@exämple.org', { local: 'pelé', domain: 'exämple.org' }],
  ];
  for (const [input, expected] of valid) {
    test(`accepts ${input}`, () => assert.deepEqual(parseAddress(input), expected));
  }
  const invalid = ['', 'user', '@example.org', 'user@', 'a@b@c', 'a@x.org, b@y.org', 'G:;', 'a..b@x.org', 'a@-x.org', 'a b@x.org'];
  for (const input of invalid) {
    test(`rejects ${JSON.stringify(input)}`, () => assert.equal(parseAddress(input), null));
  }
  test('normalizeAddress lower-cases the domain only', () => {
    assert.equal(normalizeAddress('<John.Doe@Example.ORG>'), 'John.Doe@example.org');
    assert.equal(normalizeAddress('not an address'), null);
  });
});
