import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/shared/clock.js';
import { addressKey, LoginThrottle } from '../../src/auth/throttle.js';

const auth = { failure_delay_ms: 1000, max_failure_delay_ms: 8000, lockout_failures: 5, lockout_seconds: 900 };

function make(overrides: Partial<typeof auth> = {}, maxKeys?: number): { throttle: LoginThrottle; clock: ManualClock } {
  const clock = new ManualClock();
  const options: ConstructorParameters<typeof LoginThrottle>[0] = { auth: { ...auth, ...overrides }, clock };
  if (maxKeys !== undefined) options.maxKeys = maxKeys;
  return { throttle: new LoginThrottle(options), clock };
}

describe('LoginThrottle', () => {
  test('the delay doubles with each failure from one address, up to the maximum', () => {
    const { throttle } = make({ lockout_failures: 100 });
    const delays = Array.from({ length: 6 }, (_, i) => throttle.recordFailure('192.0.2.1', `user${i}@example.com`).delayMs);
    assert.deepEqual(delays, [1000, 2000, 4000, 8000, 8000, 8000]);
  });

  test('a zero base delay (tests, trusted setups) means no delay', () => {
    const { throttle } = make({ failure_delay_ms: 0 });
    assert.equal(throttle.recordFailure('192.0.2.1', 'a@example.com').delayMs, 0);
    assert.equal(throttle.recordFailure('192.0.2.1', 'a@example.com').delayMs, 0);
  });

  test('an address is locked after lockout_failures failures, for lockout_seconds', () => {
    const { throttle, clock } = make();
    for (let i = 0; i < 4; i++) {
      assert.equal(throttle.recordFailure('192.0.2.1', `u${i}@example.com`).locked, false);
      assert.deepEqual(throttle.check('192.0.2.1', 'other@example.com'), { locked: false });
    }
    assert.equal(throttle.recordFailure('192.0.2.1', 'u4@example.com').locked, true);
    assert.deepEqual(throttle.check('192.0.2.1', 'other@example.com'), { locked: true, retryAfterSeconds: 900, by: 'address' });
    assert.deepEqual(throttle.check('192.0.2.2', 'other@example.com'), { locked: false });
    clock.advance(899_000);
    assert.deepEqual(throttle.check('192.0.2.1', 'x@example.com'), { locked: true, retryAfterSeconds: 1, by: 'address' });
    clock.advance(1000);
    assert.deepEqual(throttle.check('192.0.2.1', 'x@example.com'), { locked: false });
    // After the lockout the count starts again from zero.
    assert.equal(throttle.recordFailure('192.0.2.1', 'x@example.com').delayMs, 1000);
  });

  test('an account attacked from many addresses is locked, case-insensitively', () => {
    const { throttle } = make();
    for (let i = 0; i < 5; i++) throttle.recordFailure(`198.51.100.${i}`, i % 2 === 0 ? 'Victim@Example.COM' : 'victim@example.com');
    const check = throttle.check('203.0.113.9', 'VICTIM@example.com');
    assert.equal(check.locked, true);
    assert.equal(check.locked && check.by, 'account');
    assert.deepEqual(throttle.check('203.0.113.9', 'someone-else@example.com'), { locked: false });
  });

  test('success resets the address counter but not the account counter', () => {
    const { throttle } = make();
    for (let i = 0; i < 4; i++) throttle.recordFailure('192.0.2.1', 'a@example.com');
    throttle.recordSuccess('192.0.2.1', 'a@example.com');
    const next = throttle.recordFailure('192.0.2.1', 'b@example.com');
    assert.equal(next.addressFailures, 1);
    assert.equal(next.delayMs, 1000);
    const again = throttle.recordFailure('192.0.2.7', 'a@example.com');
    assert.equal(again.accountFailures, 5);
    assert.equal(again.locked, true);
  });

  test('failures older than the window are forgotten', () => {
    const { throttle, clock } = make();
    for (let i = 0; i < 4; i++) throttle.recordFailure('192.0.2.1', 'a@example.com');
    clock.advance(900_000);
    const outcome = throttle.recordFailure('192.0.2.1', 'a@example.com');
    assert.equal(outcome.addressFailures, 1);
    assert.equal(outcome.locked, false);
  });

  test('IPv6 addresses count per /64 and IPv4-mapped addresses as IPv4', () => {
    assert.equal(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:2:ffff::9'));
    assert.notEqual(addressKey('2001:db8:1:2::1'), addressKey('2001:db8:1:3::1'));
    assert.equal(addressKey('::ffff:192.0.2.1'), '192.0.2.1');
    const { throttle } = make();
    for (let i = 1; i <= 5; i++) throttle.recordFailure(`2001:db8:1:2::${i}`, `u${i}@example.com`);
    assert.equal(throttle.check('2001:db8:1:2::abcd', 'z@example.com').locked, true);
    assert.equal(throttle.check('2001:db8:1:3::1', 'z@example.com').locked, false);
  });

  test('memory stays bounded: the least recently failed keys are evicted', () => {
    const { throttle } = make({ lockout_failures: 2 }, 100);
    throttle.recordFailure('192.0.2.1', 'first@example.com');
    throttle.recordFailure('192.0.2.1', 'first@example.com');
    assert.equal(throttle.check('192.0.2.1', 'x').locked, true);
    for (let i = 0; i < 1000; i++) throttle.recordFailure(`10.0.${i >> 8}.${i & 255}`, `user${i}@example.com`);
    assert.deepEqual(throttle.trackedKeys, { addresses: 100, accounts: 100 });
    assert.equal(throttle.check('192.0.2.1', 'x').locked, false);
  });

  test('junk remote addresses and huge names are keyed without throwing', () => {
    const { throttle } = make();
    const outcome = throttle.recordFailure('not an ip'.repeat(100), 'n'.repeat(100_000));
    assert.equal(outcome.addressFailures, 1);
  });
});
