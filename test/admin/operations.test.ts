import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeCidr, normalizeDomain, normalizeEmail, InvalidInput } from '../../src/admin/operations.js';

test('networks are normalised to their CIDR network address, IPv4 and IPv6', () => {
  const table: Array<[string, string]> = [
    ['192.0.2.7/24', '192.0.2.0/24'],
    ['192.0.2.7', '192.0.2.7/32'],
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['2001:DB8::1/32', '2001:db8::/32'],
    ['::1', '::1/128'],
    ['::ffff:192.0.2.1/120', '192.0.2.0/24'],
  ];
  for (const [input, expected] of table) assert.equal(normalizeCidr(input), expected, input);
  for (const bad of ['192.0.2.0/33', 'example.com', '', '1.2.3/8', '2001:db8::/129']) {
    assert.throws(() => normalizeCidr(bad), InvalidInput, bad);
  }
});

test('domains are lower-case ASCII and IDNs become punycode', () => {
  assert.equal(normalizeDomain('Example.COM'), 'example.com');
  assert.equal(normalizeDomain('example.com.'), 'example.com');
  assert.equal(normalizeDomain('bücher.example'), 'xn--bcher-kva.example');
  for (const bad of ['a..b', '-x.com', 'ex ample.com', '', 'x'.repeat(64) + '.com']) {
    assert.throws(() => normalizeDomain(bad), InvalidInput, bad);
  }
});

test('email addresses keep the local part and lower-case the domain', () => {
  assert.deepEqual(normalizeEmail('Alice.B@Example.Com'), { email: 'Alice.B@example.com', local: 'Alice.B', domain: 'example.com' });
  for (const bad of ['alice', '@example.com', 'a b@example.com', 'a..b@example.com', '"q"@example.com', 'a@b@c', 'a@']) {
    assert.throws(() => normalizeEmail(bad), InvalidInput, bad);
  }
});
