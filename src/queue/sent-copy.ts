// Server-side Sent copy: when the account has it on (`pigeon user set EMAIL --sent-copy on`), a
// message it submits is filed into its \Sent mailbox (RFC 6154 special use), marked \Seen, so a
// phone can turn off "append to Sent" and save the second upload. Filing goes through
// delivery/deliverMessage like every other append of accepted mail.
import type { Store } from '../store/store.js';
import { deliverMessage } from '../delivery/deliver.js';

/** Files `raw` into the account's \Sent mailbox when the account asked for it. True when filed. */
export async function fileSentCopy(store: Store, input: { accountId: number; raw: Buffer }): Promise<boolean> {
  if (!(await store.queue.getSentCopy(input.accountId))) return false;
  const account = await store.getAccount(input.accountId);
  if (!account) return false;
  const sent = (await store.listMailboxes(account.id)).find((m) => m.specialUse === '\\Sent');
  if (!sent) return false;
  const [result] = await deliverMessage(store, { raw: input.raw, recipients: [account.email], mailbox: sent.name, flags: ['\\Seen'] });
  return result?.status === 'delivered';
}
