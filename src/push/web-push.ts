// Web Push delivery (RFC 8030) of the same JSON a relay gets: encrypted with aes128gcm (RFC 8291),
// authorised with VAPID (RFC 8292), with TTL (RFC 8030 §5.2), Urgency (§5.3) and a Topic per
// mailbox (§5.4) so undelivered pings of one mailbox collapse. The `web-push` package builds the
// request; push sends it through its own safe transport (callback.ts).
import { createHash } from 'node:crypto';
import webpush from 'web-push';
import type { PushStore, WebPushKeys } from '../store/push-store.js';
import type { CallbackRequest } from './callback.js';

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

const vapidSetting = 'vapid';

/** The server's VAPID key pair, generated at first start (the first node to store it wins). */
export async function ensureVapidKeys(push: PushStore): Promise<VapidKeys> {
  const existing = await push.getSetting(vapidSetting);
  const text = existing ?? (await push.setSettingIfAbsent(vapidSetting, JSON.stringify(webpush.generateVAPIDKeys())));
  return JSON.parse(text) as VapidKeys;
}

/** RFC 8030 §5.4: a Topic is at most 32 characters of the URL-safe base64 alphabet. */
export function topicFor(mailboxId: number): string {
  return createHash('sha256').update(`mailbox:${mailboxId}`).digest('base64url').slice(0, 32);
}

/** RFC 8291 §3: p256dh is an uncompressed P-256 point (65 bytes), auth 16 bytes; both base64url. */
export function checkWebPushKeys(keys: unknown): WebPushKeys | string {
  if (typeof keys !== 'object' || keys === null) return 'keys must be an object with p256dh and auth';
  const { p256dh, auth } = keys as Record<string, unknown>;
  const b64 = /^[A-Za-z0-9_-]+={0,2}$/;
  if (typeof p256dh !== 'string' || !b64.test(p256dh) || p256dh.length > 200) return 'keys.p256dh must be base64url';
  const point = Buffer.from(p256dh, 'base64url');
  if (point.length !== 65 || point[0] !== 0x04) return 'keys.p256dh must be an uncompressed P-256 public key (65 bytes)';
  if (typeof auth !== 'string' || !b64.test(auth) || Buffer.from(auth, 'base64url').length !== 16) return 'keys.auth must be 16 bytes, base64url';
  return { p256dh: p256dh.replace(/=+$/, ''), auth: auth.replace(/=+$/, '') };
}

export function webPushRequest(
  target: { endpoint: string; keys: WebPushKeys; allowPrivate: boolean },
  payload: string,
  options: { vapid: VapidKeys; subject: string; ttlSeconds: number; urgency: 'normal' | 'high'; topic: string },
): CallbackRequest {
  const details = webpush.generateRequestDetails({ endpoint: target.endpoint, keys: target.keys }, payload, {
    vapidDetails: { subject: options.subject, publicKey: options.vapid.publicKey, privateKey: options.vapid.privateKey },
    TTL: options.ttlSeconds,
    urgency: options.urgency,
    topic: options.topic,
    contentEncoding: 'aes128gcm',
  });
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(details.headers)) if (k.toLowerCase() !== 'content-length') headers[k] = String(v);
  return { url: target.endpoint, method: 'POST', headers, body: details.body ?? Buffer.alloc(0), allowPrivate: target.allowPrivate };
}
