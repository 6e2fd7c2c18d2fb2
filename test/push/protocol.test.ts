// The relay protocol's answers (PUSH.md status codes), callback safety, invalidation with the clock
// moved, and Web Push (RFC 8291 payload decrypted by the test's own keys, RFC 8292 VAPID checked).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/shared/clock.js';
import { deliverMessage } from '../../src/delivery/deliver.js';
import { CallbackRefused, checkCallbackUrl, isPublicAddress, safeTransport } from '../../src/push/callback.js';
import type { SendReport } from '../../src/push/worker.js';
import { startPushHarness, type PushHarness } from './harness.js';
import { WebPushSubscriber, checkVapid, startTestRelay, within, type RelayRequest } from './helpers.js';

const alice: [string, string] = ['alice@example.com', 'alice pw'];
const subscribeUrl = '/push/v1/example.com/subscriptions';
const json = (r: RelayRequest) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

async function withHarness(fn: (h: PushHarness) => Promise<void>, options: Parameters<typeof startPushHarness>[0] = {}): Promise<void> {
  const h = await startPushHarness(options);
  try {
    await h.addUser(...alice);
    await h.store.updateDomainSettings('example.com', { pushEnabled: true, pushDetails: true, pushAllowedHosts: ['127.0.0.1'] });
    await fn(h);
  } finally {
    await h.close();
  }
}

describe('relay protocol answers', () => {
  test('SUBSCRIBE answers 401, 403, 404 and 422 naming the field', async () => {
    await withHarness(async (h) => {
      const body = { deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n' };
      const noAuth = await h.call('POST', subscribeUrl, { body });
      assert.equal(noAuth.status, 401);
      assert.match(String(noAuth.headers['www-authenticate']), /^Basic realm=/);
      assert.equal((await h.call('POST', subscribeUrl, { auth: ['alice@example.com', 'wrong'], body })).status, 401);
      assert.equal((await h.call('POST', '/push/v1/nowhere.test/subscriptions', { auth: alice, body })).status, 404);

      const cases: Array<[unknown, string]> = [
        [{ callbackUrl: 'http://127.0.0.1:9/n' }, 'deviceId'],
        [{ deviceId: 'd1' }, 'callbackUrl'],
        [{ deviceId: 'd1', callbackUrl: 'not a url' }, 'callbackUrl'],
        [{ deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n', mailboxes: [] }, 'mailboxes'],
        [{ deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n', expires: 'soon' }, 'expires'],
        [{ deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n', expires: '2001-01-01T00:00:00Z' }, 'expires'],
        [{ deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n', keys: { p256dh: 'abc', auth: 'def' } }, 'keys'],
        [{ deviceId: 'x'.repeat(201), callbackUrl: 'http://127.0.0.1:9/n' }, 'deviceId'],
        [[1, 2], 'body'],
      ];
      for (const [b, field] of cases) {
        const r = await h.call('POST', subscribeUrl, { auth: alice, body: b });
        assert.equal(r.status, 422, JSON.stringify(b));
        assert.equal(r.json!['field'], field, JSON.stringify(b));
      }
      const garbage = await h.call('POST', subscribeUrl, { auth: alice, raw: '{not json' });
      assert.equal(garbage.status, 422);
      assert.equal(garbage.json!['field'], 'body');

      await h.store.updateDomainSettings('example.com', { pushEnabled: false });
      assert.equal((await h.call('POST', subscribeUrl, { auth: alice, body })).status, 403);
    }, { push: { subscribe_rate_per_minute: 1000 } });
  });

  test('an account of another domain is refused with 403', async () => {
    await withHarness(async (h) => {
      await h.addUser('carol@example.org', 'carol pw');
      const r = await h.call('POST', subscribeUrl, { auth: ['carol@example.org', 'carol pw'], body: { deviceId: 'd', callbackUrl: 'http://127.0.0.1:9/' } });
      assert.equal(r.status, 403);
    });
  });

  test('SUBSCRIBE attempts per address are limited with 429 and Retry-After', async () => {
    await withHarness(async (h) => {
      const body = { deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n' };
      assert.equal((await h.call('POST', subscribeUrl, { auth: alice, body, remoteAddress: '192.0.2.7' })).status, 201);
      assert.equal((await h.call('POST', subscribeUrl, { auth: alice, body, remoteAddress: '192.0.2.7' })).status, 201);
      const third = await h.call('POST', subscribeUrl, { auth: alice, body, remoteAddress: '192.0.2.7' });
      assert.equal(third.status, 429);
      assert.ok(Number(third.headers['retry-after']) >= 1);
      assert.equal((await h.call('POST', subscribeUrl, { auth: alice, body, remoteAddress: '192.0.2.8' })).status, 201, 'another address is not limited');
    }, { push: { subscribe_rate_per_minute: 2 } });
  });

  test('failed SUBSCRIBE logins count toward login throttling', async () => {
    const h = await startPushHarness();
    try {
      await h.addUser(...alice);
      await h.store.updateDomainSettings('example.com', { pushEnabled: true, pushAllowedHosts: ['127.0.0.1'] });
      const body = { deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n' };
      for (let i = 0; i < h.config.auth.lockout_failures; i++) {
        assert.equal((await h.call('POST', subscribeUrl, { auth: ['alice@example.com', 'bad'], body, remoteAddress: `198.51.100.${i}` })).status, 401);
      }
      const locked = await h.call('POST', subscribeUrl, { auth: alice, body, remoteAddress: '198.51.100.200' });
      assert.equal(locked.status, 429, 'the account is locked out, even with the right password');
    } finally {
      await h.close();
    }
  });
});

describe('callback safety', () => {
  test('only https callbacks to public addresses, unless the host is allowed', async () => {
    await withHarness(async (h) => {
      await h.store.updateDomainSettings('example.com', { pushAllowedHosts: ['relay.internal.test'] });
      const sub = (callbackUrl: string) => h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd1', callbackUrl } });
      const http = await sub('http://relay.example.net/n');
      assert.equal(http.status, 422);
      assert.equal(http.json!['field'], 'callbackUrl');
      assert.equal((await sub('https://127.0.0.1/n')).status, 403, 'loopback');
      assert.equal((await sub('https://localhost/n')).status, 403, 'a name resolving to loopback');
      assert.equal((await sub('https://10.1.2.3/n')).status, 403, 'private');
      assert.equal((await sub('https://169.254.169.254/latest')).status, 403, 'link-local');
      assert.equal((await sub('https://[fd00::1]/n')).status, 403, 'unique-local');
      assert.equal((await sub('https://[::ffff:127.0.0.1]/n')).status, 403, 'IPv4-mapped loopback');
      assert.equal((await sub('https://user:pw@relay.example.net/n')).status, 422, 'credentials in the URL');
      await h.store.updateDomainSettings('example.com', { pushAllowedHosts: ['127.0.0.1'] });
      assert.equal((await sub('https://127.0.0.1/n')).status, 201, 'an allowed host is exempt');
      assert.equal((await sub('http://127.0.0.1:8080/n')).status, 201, 'also from https');
    });
  });

  test('address classification', () => {
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.1.1', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', 'fe80::1', 'fc00::1', '::ffff:10.0.0.1', '::']) {
      assert.equal(isPublicAddress(a), false, a);
    }
    for (const a of ['93.184.216.34', '2606:4700::1111', '8.8.8.8']) assert.equal(isPublicAddress(a), true, a);
    assert.equal(checkCallbackUrl('https://Relay.Example:8443/x', ['relay.example:8443']).allowed, true);
    assert.equal(checkCallbackUrl('https://relay.example/x', ['other.example']).allowed, false);
  });

  test('the transport refuses non-public addresses at connect time unless allowed', async () => {
    const relay = await startTestRelay();
    try {
      const url = relay.url.replace('127.0.0.1', 'localhost');
      const request = { url, method: 'POST' as const, headers: {}, body: Buffer.from('{}') };
      await assert.rejects(safeTransport({ ...request, allowPrivate: false }), (err: unknown) => err instanceof CallbackRefused && err.kind === 'forbidden');
      await assert.rejects(safeTransport({ ...request, url: relay.url, allowPrivate: false }), CallbackRefused);
      assert.equal(relay.received.length, 0);
      assert.equal((await safeTransport({ ...request, allowPrivate: true })).status, 200);
    } finally {
      await relay.close();
    }
  });

  test('a host removed from the allowed hosts is no longer called', async () => {
    const relay = await startTestRelay();
    try {
      await withHarness(async (h) => {
        const r = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd1', callbackUrl: relay.url } });
        const id = r.json!['id'] as string;
        const v = json(await relay.next());
        assert.equal((await h.call('POST', `${subscribeUrl}/${id}/activate`, { auth: alice, body: { verificationCode: v['verificationCode'] } })).status, 200);
        await relay.until((x) => json(x)['type'] === 'MailboxChange');
        await h.store.updateDomainSettings('example.com', { pushAllowedHosts: [] });
        const failed = new Promise<SendReport>((resolve) => {
          const on = (x: SendReport) => {
            if (x.outcome === 'sent') return;
            h.push.events.off('attempt', on);
            resolve(x);
          };
          h.push.events.on('attempt', on);
        });
        await deliverMessage(h.store, { raw: Buffer.from('Subject: x\r\n\r\nx\r\n'), recipients: ['alice@example.com'] });
        const report = await within(failed, 20_000, 'a failed attempt');
        assert.equal(report.outcome, 'retry');
        assert.match(report.error ?? '', /https/);
        assert.match((await h.store.push.getSubscription(id))!.lastError ?? '', /https/);
      });
    } finally {
      await relay.close();
    }
  });
});

describe('activation and invalidation', () => {
  test('five wrong codes delete the pending subscription', async () => {
    await withHarness(async (h) => {
      const r = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n' } });
      const id = r.json!['id'] as string;
      for (let i = 1; i <= 5; i++) {
        const a = await h.call('POST', `${subscribeUrl}/${id}/activate`, { auth: alice, body: { verificationCode: `wrong-${i}` } });
        assert.equal(a.status, 422);
      }
      assert.equal(await h.store.push.getSubscription(id), undefined);
      assert.equal((await h.call('POST', `${subscribeUrl}/${id}/activate`, { auth: alice, body: { verificationCode: 'x' } })).status, 404);
    });
  });

  test('a pending subscription expires after 30 minutes (clock moved, no sleeping)', async () => {
    const clock = new ManualClock(Date.now());
    const relay = await startTestRelay();
    try {
      await withHarness(async (h) => {
        const a = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd1', callbackUrl: relay.url } });
        const b = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd2', callbackUrl: relay.url } });
        const codes = new Map<string, string>();
        for (let i = 0; i < 2; i++) {
          const v = json(await relay.next());
          codes.set(v['subscriptionId'] as string, v['verificationCode'] as string);
        }
        clock.advance(29 * 60_000);
        const idA = a.json!['id'] as string;
        const idB = b.json!['id'] as string;
        assert.equal((await h.call('POST', `${subscribeUrl}/${idA}/activate`, { auth: alice, body: { verificationCode: codes.get(idA) } })).status, 200, 'in time');
        clock.advance(60_000);
        assert.equal((await h.call('POST', `${subscribeUrl}/${idB}/activate`, { auth: alice, body: { verificationCode: codes.get(idB) } })).status, 404, 'too late');
        assert.equal(await h.store.push.getSubscription(idB), undefined);
        // The sweep drops pending ones nobody asks about.
        const c = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd3', callbackUrl: relay.url } });
        clock.advance(30 * 60_000 + 1);
        await h.push.sweep();
        assert.equal(await h.store.push.getSubscription(c.json!['id'] as string), undefined);
        assert.ok(await h.store.push.getSubscription(idA), 'the active one stays');
      }, { clock });
    } finally {
      await relay.close();
    }
  });

  test('expiry and renewal: an expired subscription is removed, a renewed one is not; the server shortens long requests', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    await withHarness(async (h) => {
      const far = new Date(clock.now() + 400 * 86_400_000).toISOString();
      const a = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n', expires: far } });
      assert.equal(a.json!['expires'], new Date(clock.now() + 30 * 86_400_000).toISOString(), 'at most the default lifetime');
      const b = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd2', callbackUrl: 'http://127.0.0.1:9/n' } });
      const idA = a.json!['id'] as string;
      const idB = b.json!['id'] as string;
      clock.advance(20 * 86_400_000);
      const renewed = await h.call('POST', `${subscribeUrl}/${idA}/renew`, { auth: alice, body: { expires: new Date(clock.now() + 25 * 86_400_000).toISOString() } });
      assert.equal(renewed.status, 200);
      assert.equal(renewed.json!['expires'], new Date(clock.now() + 25 * 86_400_000).toISOString());
      assert.equal((await h.call('POST', `${subscribeUrl}/nope/renew`, { auth: alice, body: {} })).status, 404);
      clock.advance(11 * 86_400_000);
      await h.push.sweep();
      assert.ok(await h.store.push.getSubscription(idA));
      assert.equal(await h.store.push.getSubscription(idB), undefined);
    }, { clock, push: { pending_ttl_seconds: 100 * 86_400 } });
  });

  test('another account cannot see, activate or delete a subscription', async () => {
    await withHarness(async (h) => {
      await h.addUser('bob@example.com', 'bob pw');
      const r = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'd1', callbackUrl: 'http://127.0.0.1:9/n' } });
      const id = r.json!['id'] as string;
      const bob: [string, string] = ['bob@example.com', 'bob pw'];
      assert.equal((await h.call('POST', `${subscribeUrl}/${id}/activate`, { auth: bob, body: { verificationCode: 'x' } })).status, 404);
      assert.equal((await h.call('DELETE', `${subscribeUrl}/${id}`, { auth: bob })).status, 204);
      assert.ok(await h.store.push.getSubscription(id), 'still there');
      assert.equal((await h.call('DELETE', `${subscribeUrl}/${id}`)).status, 401);
    });
  });
});

describe('Web Push', () => {
  test('a subscription with keys gets aes128gcm payloads with VAPID, TTL, Urgency and Topic', async () => {
    const relay = await startTestRelay();
    try {
      await withHarness(async (h) => {
        const ua = new WebPushSubscriber();
        const r = await h.call('POST', subscribeUrl, { auth: alice, body: { deviceId: 'browser', callbackUrl: relay.url, keys: ua.keys } });
        assert.equal(r.status, 201);
        const id = r.json!['id'] as string;
        const v = await relay.next();
        assert.equal(v.headers['content-encoding'], 'aes128gcm');
        const verification = JSON.parse(ua.decrypt(v.body)) as Record<string, unknown>;
        assert.equal(verification['type'], 'PushVerification');
        const act = await h.call('POST', `${subscribeUrl}/${id}/activate`, { auth: alice, body: { verificationCode: verification['verificationCode'] } });
        assert.equal(act.status, 200);

        await deliverMessage(h.store, { raw: Buffer.from('From: bob@example.org\r\nSubject: Web lunch\r\n\r\nhi\r\n'), recipients: ['alice@example.com'] });
        const n = await relay.until((x) => JSON.parse(ua.decrypt(x.body)).newMessages?.some((m: { subject?: string }) => m.subject === 'Web lunch'));
        const payload = JSON.parse(ua.decrypt(n.body)) as Record<string, unknown>;
        assert.equal(payload['type'], 'MailboxChange');
        assert.equal(payload['subscriptionId'], id);
        assert.equal(n.headers['content-encoding'], 'aes128gcm');
        assert.equal(n.headers['ttl'], String(h.config.push.web_push_ttl_seconds));
        assert.equal(n.headers['urgency'], 'high');
        assert.match(String(n.headers['topic']), /^[A-Za-z0-9_-]{1,32}$/);
        assert.equal(n.headers['pigeon-signature'], undefined);
        const vapid = checkVapid(n.headers['authorization']);
        assert.equal(vapid.key, h.push.vapidPublicKey);
        assert.equal(vapid.claims['aud'], relay.origin);
        assert.equal(vapid.claims['sub'], 'mailto:postmaster@example.com');
        const exp = vapid.claims['exp'] as number;
        assert.ok(exp > Date.now() / 1000 && exp <= Date.now() / 1000 + 24 * 3600, 'exp within 24 h (RFC 8292 §2)');

        // A flag change is a normal-urgency ping of the same topic (collapsing undelivered ones).
        const inbox = (await h.store.getMailbox((await h.store.getAccountByEmail('alice@example.com'))!.id, 'INBOX'))!;
        await h.store.storeFlags(inbox.id, [1, 2, 3], { mode: 'add', flags: ['\\Seen'] });
        const f = await relay.until((x) => (JSON.parse(ua.decrypt(x.body)) as { unseen: number }).unseen === 0);
        assert.equal(f.headers['urgency'], 'normal');
        assert.equal(f.headers['topic'], n.headers['topic']);
      });
    } finally {
      await relay.close();
    }
  });

  test('the VAPID key pair is generated once and kept across restarts', async () => {
    const h = await startPushHarness();
    const first = h.push.vapidPublicKey;
    assert.equal(Buffer.from(first, 'base64url').length, 65);
    await h.push.close();
    const { startPushService } = await import('../../src/push/service.js');
    const { silentLogger } = await import('../../src/shared/logger.js');
    const again = await startPushService({ config: h.config, store: h.store, logger: silentLogger() });
    try {
      assert.equal(again.vapidPublicKey, first);
    } finally {
      await again.close();
      await h.app.close();
      await h.store.close();
    }
  });
});
