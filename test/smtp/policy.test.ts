// The relay and sender rules as pure decision tables (no store, no sockets).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { localRecipientDecision, recipientKey, relayDecision, type RelayFacts } from '../../src/smtp/policy/relay.js';
import { senderAllowed, type SenderFacts } from '../../src/smtp/policy/sender.js';
import { inNetworks, parseNetworks } from '../../src/smtp/policy/networks.js';
import { parsePath } from '../../src/smtp/wire/path.js';

const path = (s: string) => parsePath(`<${s}>`, { utf8: true }).path!;
const outsider: RelayFacts = { authenticated: false, trustedNetwork: false, localDomain: false };

describe('relay decision (never an open relay)', () => {
  const table: Array<[string, string, RelayFacts, 'local' | 'remote' | number]> = [
    ['outsider to a local domain', 'bob@example.com', { ...outsider, localDomain: true }, 'local'],
    ['outsider to a remote domain', 'x@remote.test', outsider, 554],
    ['authenticated to a remote domain', 'x@remote.test', { ...outsider, authenticated: true }, 'remote'],
    ['My Networks to a remote domain', 'x@remote.test', { ...outsider, trustedNetwork: true }, 'remote'],
    ['authenticated to a local domain stays local', 'bob@example.com', { ...outsider, authenticated: true, localDomain: true }, 'local'],
    ['outsider to an address literal', 'x@[192.0.2.1]', outsider, 554],
    ['address literal is never local', 'x@[192.0.2.1]', { ...outsider, localDomain: true }, 554],
    ['authenticated to an address literal is remote', 'x@[192.0.2.1]', { ...outsider, authenticated: true }, 'remote'],
    ['percent hack at a local domain stays local', 'user%remote.test@example.com', { ...outsider, localDomain: true }, 'local'],
    ['bang path at a local domain stays local', 'remote.test!user@example.com', { ...outsider, localDomain: true }, 'local'],
    ['source route through us to a remote domain', '@example.com:user@remote.test', outsider, 554],
  ];
  for (const [name, addr, facts, expected] of table) {
    test(name, () => {
      const d = relayDecision(path(addr), facts);
      if (typeof expected === 'number') {
        assert.equal(d.kind, 'refuse');
        assert.equal(d.kind === 'refuse' && d.reply.code, expected);
        assert.equal(d.kind === 'refuse' && d.reply.enhanced, '5.7.1');
      } else assert.equal(d.kind, expected);
    });
  }
  test('the lookup key keeps odd local parts whole and lower-cases', () => {
    assert.equal(recipientKey(path('"User@Remote"@Example.COM')), '"user@remote"@example.com');
    assert.equal(recipientKey(path('Bob@EXAMPLE.com')), 'bob@example.com');
  });
});

describe('local recipient decision (RFC 5321 §4.2.2, RFC 3463)', () => {
  const acct = (quota: number, usedBytes: number) => ({ quota, usedBytes });
  const table: Array<[string, Parameters<typeof localRecipientDecision>[0], number, number | 'accept', string?]> = [
    ['unknown address', { kind: 'unknown' }, 0, 550, '5.1.1'],
    ['account with room', { kind: 'local', accounts: [acct(1000, 10)], remote: [] }, 0, 'accept'],
    ['unlimited account', { kind: 'local', accounts: [acct(0, 1e12)], remote: [] }, 1e9, 'accept'],
    ['full account', { kind: 'local', accounts: [acct(1000, 1000)], remote: [] }, 0, 452, '4.2.2'],
    ['declared size does not fit what is left', { kind: 'local', accounts: [acct(1000, 600)], remote: [] }, 500, 452, '4.2.2'],
    ['message alone larger than the quota', { kind: 'local', accounts: [acct(1000, 0)], remote: [] }, 2000, 552, '5.2.2'],
    ['alias to one full and one free account', { kind: 'local', accounts: [acct(10, 10), acct(1000, 0)], remote: [] }, 0, 'accept'],
    ['alias forwarding outside only', { kind: 'local', accounts: [], remote: ['x@remote.test'] }, 0, 'accept'],
  ];
  for (const [name, resolution, size, expected, enhanced] of table) {
    test(name, () => {
      const d = localRecipientDecision(resolution, size);
      if (expected === 'accept') assert.equal(d.kind, 'accept');
      else {
        assert.ok(d.kind === 'refuse');
        assert.equal(d.reply.code, expected);
        assert.equal(d.reply.enhanced, enhanced);
      }
    });
  }
});

describe('sender rule for authenticated users', () => {
  const base: SenderFacts = { enforce: true, accountEmail: 'alice@example.com', sender: 'alice@example.com', aliasTargets: null, catchAllTargets: null, senderIsAnotherAccount: false };
  const table: Array<[string, Partial<SenderFacts>, boolean]> = [
    ['own address', {}, true],
    ['null sender', { sender: null }, true],
    ['someone else', { sender: 'bob@example.com', senderIsAnotherAccount: true }, false],
    ['alias pointing to me', { sender: 'sales@example.com', aliasTargets: ['Alice@example.com', 'x@example.com'] }, true],
    ['alias pointing elsewhere', { sender: 'sales@example.com', aliasTargets: ['bob@example.com'] }, false],
    ['catch-all pointing to me', { sender: 'anything@example.com', catchAllTargets: ['alice@example.com'] }, true],
    ['catch-all does not cover another account', { sender: 'bob@example.com', senderIsAnotherAccount: true, catchAllTargets: ['alice@example.com'] }, false],
    ['a foreign domain', { sender: 'alice@remote.test' }, false],
    ['anything goes when the domain does not enforce', { enforce: false, sender: 'ceo@remote.test' }, true],
  ];
  for (const [name, change, expected] of table) test(name, () => assert.equal(senderAllowed({ ...base, ...change }), expected));
});

describe('My Networks', () => {
  const { networks, invalid } = parseNetworks(['192.0.2.0/24', '2001:db8::/32', '10.1.2.3', 'nonsense']);
  const table: Array<[string, boolean]> = [
    ['192.0.2.77', true],
    ['192.0.3.1', false],
    ['::ffff:192.0.2.5', true],
    ['2001:db8:1::1', true],
    ['2001:db9::1', false],
    ['10.1.2.3', true],
    ['10.1.2.4', false],
    ['not-an-ip', false],
  ];
  for (const [ip, expected] of table) test(`${ip} → ${expected}`, () => assert.equal(inNetworks(ip, networks), expected));
  test('unusable entries are reported, not fatal', () => assert.deepEqual(invalid, ['nonsense']));
});
