// The commit pacer: deliveries released together, never one batch on top of another.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CommitPacer } from '../../src/smtp/commit-pacer.js';

describe('CommitPacer', () => {
  test('runs queued in the same turn start together, in one later turn', async () => {
    const pacer = new CommitPacer({ maxWaitMs: 0 });
    let turn = 0;
    const tick = setInterval(() => turn++, 0);
    const started: number[] = [];
    await Promise.all([1, 2, 3].map(() => pacer.run(async () => void started.push(turn))));
    clearInterval(tick);
    assert.equal(started.length, 3);
    assert.equal(new Set(started).size, 1);
  });

  test('a run queued while a batch is in flight waits for that batch to finish', async () => {
    const pacer = new CommitPacer({ maxWaitMs: 0 });
    const events: string[] = [];
    let finishFirst!: () => void;
    const first = pacer.run(() => {
      events.push('first started');
      return new Promise<void>((resolve) => (finishFirst = resolve));
    });
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    const second = pacer.run(async () => void events.push('second started'));
    await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(events, ['first started']);
    events.push('first done');
    finishFirst();
    await Promise.all([first, second]);
    assert.deepEqual(events, ['first started', 'first done', 'second started']);
  });

  test('a failing run rejects its caller and does not block the next batch', async () => {
    const pacer = new CommitPacer({ maxWaitMs: 0 });
    await assert.rejects(pacer.run(async () => Promise.reject(new Error('disk full'))), /disk full/);
    assert.equal(await pacer.run(async () => 42), 42);
  });
});
