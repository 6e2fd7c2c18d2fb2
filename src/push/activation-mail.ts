// The two activation emails of the seed (MDaemon "Integrated Accounts"): "Email activation
// information" when a relay subscribes and "Email activation information (push mail)" once it is
// activated. Composed as RFC 5322 messages (§3.6: Date, From, To, Subject, Message-ID) and
// delivered to the account's INBOX through delivery/ (the one path into a mailbox).
// Relay-supplied text (device name, host) only ever goes into the body, stripped of control
// characters and bounded, never into a header field.
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { PushSubscription } from '../store/push-store.js';
import { deliverMessage } from '../delivery/deliver.js';

export type ActivationKind = 'subscribed' | 'activated';

export const activationSubjects: Record<ActivationKind, string> = {
  subscribed: 'Email activation information',
  activated: 'Email activation information (push mail)',
};

/** Relay text in a mail body: no control characters, at most 200 characters. */
function clean(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ').slice(0, 200);
}

/** RFC 5322 §3.3 date-time, in UTC. */
function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** The body text (UTF-8). */
export function activationText(kind: ActivationKind, sub: PushSubscription, options: { now: number; hostname: string }): string {
  const when = new Date(options.now).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const lines = kind === 'subscribed'
    ? [
        `A push service asked to notify a device of new mail in ${sub.account}.`,
        '',
        `  Device:        ${clean(sub.deviceName)} (${clean(sub.deviceId)})`,
        `  Push relay:    ${clean(sub.relayHost)}`,
        `  Requested at:  ${when}`,
        `  From address:  ${clean(sub.remoteAddress)}`,
        `  Folders:       ${sub.mailboxes.map(clean).join(', ')}`,
        `  Subscription:  ${sub.id}`,
        '',
        'Push mail starts once the push service confirms the request. Nothing is sent to it before.',
        '',
        'If you did not add this account to that device, refuse it: change your password (this ends',
        'every push subscription made with the old one), or ask your administrator to remove it:',
        `  pigeon push remove ${sub.id}`,
      ]
    : [
        `Push mail is now active for ${sub.account}.`,
        '',
        `  Device:        ${clean(sub.deviceName)} (${clean(sub.deviceId)})`,
        `  Push relay:    ${clean(sub.relayHost)}`,
        `  Activated at:  ${when}`,
        `  Folders:       ${sub.mailboxes.map(clean).join(', ')}`,
        `  Expires:       ${new Date(sub.expiresAt).toISOString()}`,
        `  Subscription:  ${sub.id}`,
        '',
        'The push service now learns when mail arrives: the folder, message counts and (if your',
        'administrator allows it) sender and subject. It never receives message bodies or your password.',
        '',
        'To stop it, remove the account from the device, change your password, or ask your',
        `administrator to remove the subscription: pigeon push remove ${sub.id}`,
      ];
  return lines.join('\r\n') + '\r\n';
}

/** The whole RFC 5322 message. */
export function composeActivationMail(kind: ActivationKind, sub: PushSubscription, options: { now: number; hostname: string }): Buffer {
  const text = activationText(kind, sub, options);
  const ascii = /^[\x20-\x7e\r\n]*$/.test(text);
  const body = ascii ? text : (Buffer.from(text, 'utf8').toString('base64').match(/.{1,76}/g) ?? []).join('\r\n') + '\r\n';
  const headers = [
    `Date: ${rfc5322Date(options.now)}`,
    `From: Pigeon <postmaster@${sub.domain}>`,
    `To: <${sub.account}>`,
    `Subject: ${activationSubjects[kind]}`,
    `Message-ID: <push.${randomBytes(12).toString('hex')}@${options.hostname}>`,
    'Auto-Submitted: auto-generated',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Transfer-Encoding: ${ascii ? '7bit' : 'base64'}`,
  ];
  return Buffer.from(headers.join('\r\n') + '\r\n\r\n' + body, 'utf8');
}

/** Deliver one activation mail to the subscription's account INBOX. */
export async function sendActivationMail(store: Store, sub: PushSubscription, options: { kind: ActivationKind; now: number; hostname: string }): Promise<void> {
  const raw = composeActivationMail(options.kind, sub, options);
  const [result] = await deliverMessage(store, { raw, recipients: [sub.account], mailbox: 'INBOX' });
  if (!result || result.status !== 'delivered') throw new Error(`activation mail not delivered: ${result?.message ?? 'no result'}`);
}
