// The open-relay probe suite, over a real connection on port 25 from outside My Networks: every
// probe must be refused and nothing may reach the queue. Then the same client, once its address
// is in My Networks, may relay.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectReply, inbox, message, ready, send, withServer } from './harness.js';

interface Probe {
  name: string;
  from: string;
  to: string;
  /** Expected RCPT reply. */
  code: number;
  enhanced: string;
}

// Our domains: example.com, example.org. remote.test is not ours.
const probes: Probe[] = [
  { name: 'plain relay attempt', from: 'a@remote.test', to: 'victim@remote.test', code: 554, enhanced: '5.7.1' },
  { name: 'our own domain as sender is no reason to relay', from: 'alice@example.com', to: 'victim@remote.test', code: 554, enhanced: '5.7.1' },
  { name: 'our own domain as sender, mixed case', from: 'Alice@EXAMPLE.com', to: 'victim@remote.test', code: 554, enhanced: '5.7.1' },
  { name: 'null sender', from: '', to: 'victim@remote.test', code: 554, enhanced: '5.7.1' },
  { name: 'percent hack', from: 'a@remote.test', to: 'victim%remote.test@example.com', code: 550, enhanced: '5.1.1' },
  { name: 'percent hack with a real user name', from: 'a@remote.test', to: 'bob%remote.test@example.com', code: 550, enhanced: '5.1.1' },
  { name: 'source route through us', from: 'a@remote.test', to: '@example.com:victim@remote.test', code: 554, enhanced: '5.7.1' },
  { name: 'source route with several hops', from: 'a@remote.test', to: '@example.com,@example.org:victim@remote.test', code: 554, enhanced: '5.7.1' },
  { name: 'bang path', from: 'a@remote.test', to: 'remote.test!victim@example.com', code: 550, enhanced: '5.1.1' },
  { name: 'bang path without our domain', from: 'a@remote.test', to: 'remote.test!victim@remote.test', code: 554, enhanced: '5.7.1' },
  { name: 'quoted local part with @', from: 'a@remote.test', to: '"victim@remote.test"@example.com', code: 550, enhanced: '5.1.1' },
  { name: 'quoted local part with % and @', from: 'a@remote.test', to: '"victim%remote.test@"@example.com', code: 550, enhanced: '5.1.1' },
  { name: 'IPv4 address literal', from: 'a@remote.test', to: 'victim@[192.0.2.1]', code: 554, enhanced: '5.7.1' },
  { name: 'IPv4 literal of this host', from: 'a@remote.test', to: 'bob@[127.0.0.1]', code: 554, enhanced: '5.7.1' },
  { name: 'IPv6 address literal', from: 'a@remote.test', to: 'victim@[IPv6:2001:db8::1]', code: 554, enhanced: '5.7.1' },
  { name: 'trailing dot on a remote domain', from: 'a@remote.test', to: 'victim@remote.test.', code: 501, enhanced: '5.1.3' },
  { name: 'trailing dot on our domain', from: 'a@remote.test', to: 'bob@example.com.', code: 501, enhanced: '5.1.3' },
  { name: 'our domain as a subdomain of theirs', from: 'a@remote.test', to: 'victim@example.com.remote.test', code: 554, enhanced: '5.7.1' },
  { name: 'mixed case of our domain, unknown user', from: 'a@remote.test', to: 'nobody@ExAmPlE.CoM', code: 550, enhanced: '5.1.1' },
  { name: 'unqualified recipient', from: 'a@remote.test', to: 'victim', code: 501, enhanced: '5.1.3' },
];

describe('open-relay probes from outside My Networks', () => {
  test('every probe is refused and nothing is queued', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      for (const p of probes) {
        expectReply(await c.cmd(`MAIL FROM:<${p.from}>`), 250);
        const r = await c.cmd(`RCPT TO:<${p.to}>`);
        assert.deepEqual([r?.code, r?.enhanced], [p.code, p.enhanced], `${p.name}: ${r?.lines.join(' ')}`);
        expectReply(await c.cmd('DATA'), 554, '5.5.1');
        expectReply(await c.cmd('RSET'), 250);
      }
      assert.deepEqual(await s.store.listQueue(), []);
      c.close();
    }));

  test('mixed case of our domain still reaches a real local user (and only them)', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await send(c, 'a@remote.test', ['BOB@ExAmPlE.CoM'], message('mixed case')), 250);
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 1);
      assert.deepEqual(await s.store.listQueue(), []);
      c.close();
    }));

  test('a client in My Networks may relay; removing the network removes the right', () =>
    withServer({}, async (s) => {
      await s.store.addNetwork('127.0.0.0/8', 'tests');
      const c = await ready(s.port('smtp'));
      expectReply(await send(c, 'app@internal.test', ['someone@remote.test'], message('relayed')), 250);
      const [q] = await s.store.listQueue();
      assert.deepEqual(q!.recipients.map((r) => r.address), ['someone@remote.test']);
      assert.equal(q!.accountId, null);
      // Still no percent hack through a local domain, even for My Networks.
      expectReply(await c.cmd('MAIL FROM:<app@internal.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<victim%remote.test@example.com>'), 550, '5.1.1');
      c.close();
      await s.store.removeNetwork('127.0.0.0/8');
      const d = await ready(s.port('smtp'));
      expectReply(await d.cmd('MAIL FROM:<app@internal.test>'), 250);
      expectReply(await d.cmd('RCPT TO:<someone@remote.test>'), 554, '5.7.1');
      d.close();
    }));

  test('an alias forwarding outside is delivered through the queue, not an open relay', () =>
    withServer({}, async (s) => {
      await s.store.addAlias('fwd@example.com', ['someone@remote.test', 'bob@example.com']);
      const c = await ready(s.port('smtp'));
      expectReply(await send(c, 'a@remote.test', ['fwd@example.com'], message('forward')), 250);
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 1);
      const [q] = await s.store.listQueue();
      assert.deepEqual(q!.recipients.map((r) => r.address), ['someone@remote.test']);
      c.close();
    }));
});
