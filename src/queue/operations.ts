// Operator control of the outbound queue, shared by `pigeon queue …` and the console's Queue
// screen: list, show, retry (one message now), remove, flush (everything deferred, now).
// A running worker is woken through `kick` (in-process); from another process the change shows
// at the worker's next look at the queue ([queue] poll, at most 30 s).
import type { Store } from '../store/store.js';
import type { QueueRecipientDetail, QueuedMessageInfo } from '../store/queue-store.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { BadCommand, Refused } from '../shared/errors.js';

export interface QueueEntry extends QueuedMessageInfo {
  recipients: QueueRecipientDetail[];
}

export interface QueueOps {
  list(): Promise<QueueEntry[]>;
  show(id: number): Promise<QueueEntry & { raw: Buffer }>;
  /** Make the message's undelivered recipients due now; returns how many. */
  retry(id: number): Promise<number>;
  remove(id: number): Promise<void>;
  /** Make every undelivered recipient due now; returns how many. */
  flush(): Promise<number>;
}

function checkId(id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) throw new BadCommand(`invalid queue id ${String(id)}`);
}

export function queueOps(store: Store, options: { kick?: () => void; clock?: Clock } = {}): QueueOps {
  const clock = options.clock ?? systemClock;
  const entry = async (m: QueuedMessageInfo): Promise<QueueEntry> => ({
    id: m.id, sender: m.sender, blobHash: m.blobHash, size: m.size, createdAt: m.createdAt, dsnRet: m.dsnRet, dsnEnvid: m.dsnEnvid, accountId: m.accountId, dkimSign: m.dkimSign,
    recipients: await store.queue.recipientDetails(m.id),
  });
  return {
    async list() {
      return Promise.all((await store.listQueue()).map(entry));
    },
    async show(id) {
      checkId(id);
      const m = await store.getQueuedMessage(id);
      if (!m) throw new Refused(`queued message ${id} does not exist`, 'NONEXISTENT');
      return { ...(await entry(m)), raw: await store.readBlob(m.blobHash) };
    },
    async retry(id) {
      checkId(id);
      const n = await store.queue.retryNow(id, clock.now());
      options.kick?.();
      return n;
    },
    async remove(id) {
      checkId(id);
      await store.removeQueuedMessage(id);
    },
    async flush() {
      const n = await store.queue.retryNow(null, clock.now());
      options.kick?.();
      return n;
    },
  };
}
