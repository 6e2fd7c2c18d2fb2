// Fuzzing the push Subscribe URL (src/http/push-routes.ts) through app.inject: random JSON bodies,
// random field values, random paths, methods and credentials. Every answer must come from the
// route's error mapping: a 2xx or 4xx with a JSON body (or none), never a 500 or a hang.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { buildHttpsApp } from '../../src/http/app.js';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { fuzzSeed, longRun } from './budget.js';

let pigeon: TestPigeon;
let app: FastifyInstance;
const good = `Basic ${Buffer.from('alice@push.test:a good password').toString('base64')}`;

before(async () => {
  // A high subscribe rate and many subscriptions, so random inputs reach the body checks.
  // No HTTP listeners: the app under test is built here and driven with inject().
  pigeon = await startTestPigeon({ listen: { http: '', https: '' }, push: { subscribe_rate_per_minute: 1_000_000, max_subscriptions_per_account: 1000, coalesce_ms: 0 } });
  await pigeon.addUser('alice@push.test', 'a good password');
  await pigeon.store.updateDomainSettings('push.test', { pushEnabled: true, pushAllowedHosts: ['127.0.0.1'] });
  app = await buildHttpsApp({ config: pigeon.config, store: pigeon.store, logger: pigeon.logger, authenticator: pigeon.authenticator, push: pigeon.push });
  await app.ready();
});

after(async () => {
  await app.close();
  await pigeon.close({ timeoutMs: 0 });
});

const fieldValue = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null), fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }), fc.jsonValue({ maxDepth: 3 }), fc.constantFrom('http://127.0.0.1:1/cb', 'https://127.0.0.1:1/x', 'javascript:alert(1)', 'INBOX', '', 'x'.repeat(5000)));
const body = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.dictionary(fc.constantFrom('deviceId', 'deviceName', 'callbackUrl', 'mailboxes', 'expires', 'verificationCode', 'keys', 'account', 'lifetime', '__proto__', 'constructor'), fieldValue, { maxKeys: 7 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', '{', '[]', 'null', '"x"', '1e999999', '{"a":'.repeat(5000), JSON.stringify({ deviceId: 'd', callbackUrl: 'http://127.0.0.1:1/' })),
);
const path = fc.oneof(
  fc.constantFrom('/push/v1/push.test/subscriptions', '/push/v1/unknown.test/subscriptions', '/push/v1/PUSH.TEST/subscriptions'),
  fc.tuple(fc.constantFrom('push.test', '..', '%00', 'x'.repeat(300)), fc.string({ maxLength: 30 }), fc.constantFrom('', '/activate', '/renew', '/../../x')).map(([d, id, tail]) => `/push/v1/${encodeURIComponent(d)}/subscriptions/${encodeURIComponent(id)}${tail}`),
);
const runs = longRun ? Number(process.env['FUZZ_SECONDS']) * 200 : 120;
const auth = fc.oneof(fc.constant(good), fc.constant(undefined), fc.string({ maxLength: 60 }).map((s) => `Basic ${Buffer.from(s).toString('base64')}`), fc.string({ maxLength: 60 }));

describe('push Subscribe URL under fuzzing', () => {
  test('random requests are answered 2xx/4xx with JSON, never 500, each within a bounded time', async () => {
    const inputs = fc.sample(fc.record({ method: fc.constantFrom('POST', 'DELETE', 'GET', 'PUT'), path, body, auth, type: fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', undefined) }), { numRuns: runs, seed: fuzzSeed });
    let tried = 0;
    for (const input of inputs) {
      const started = performance.now();
      const headers: Record<string, string> = {};
      if (input.auth !== undefined) headers['authorization'] = input.auth;
      if (input.type !== undefined) headers['content-type'] = input.type;
      const res = await app.inject({ method: input.method as 'POST', url: input.path, headers, ...(input.method === 'GET' ? {} : { payload: input.body }) });
      tried++;
      assert.ok(res.statusCode < 500, `${input.method} ${input.path} ${input.body.slice(0, 100)} → ${res.statusCode} ${res.body.slice(0, 200)}`);
      if (res.body !== '') assert.doesNotThrow(() => JSON.parse(res.body), `not JSON: ${res.body.slice(0, 100)}`);
      const took = performance.now() - started;
      assert.ok(took < 3000, `${input.method} ${input.path} ${input.body.slice(0, 100)} took ${Math.round(took)} ms`);
    }
    assert.equal(tried, runs);
  });

  test('a body over 64 KiB is 413 and the app keeps answering', async () => {
    const res = await app.inject({ method: 'POST', url: '/push/v1/push.test/subscriptions', headers: { authorization: good, 'content-type': 'application/json' }, payload: `{"deviceId":"${'x'.repeat(200_000)}"}` });
    assert.equal(res.statusCode, 413);
    const health = await app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
  });

});
