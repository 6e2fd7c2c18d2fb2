// Webhook signatures (PUSH.md "Notification"): `Pigeon-Signature: t=<unix seconds>,v1=<hex>`, where
// hex is HMAC-SHA256 keyed with the subscription's secret (its UTF-8 bytes) over "t.body", the body
// being the exact bytes sent. Relays should refuse a t far from their clock (replay).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const signatureHeader = 'Pigeon-Signature';

export function signBody(secret: string, body: Buffer | string, options: { now: number }): string {
  const t = Math.floor(options.now / 1000);
  const mac = createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
  return `t=${t},v1=${mac}`;
}

/** Check a header as a relay would (tests, and relays written in TypeScript). */
export function verifySignature(secret: string, body: Buffer | string, header: string, options: { now: number; toleranceSeconds?: number }): boolean {
  const parts = new Map<string, string>();
  for (const p of header.split(',')) {
    const i = p.indexOf('=');
    if (i > 0) parts.set(p.slice(0, i).trim(), p.slice(i + 1).trim());
  }
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1') ?? '';
  if (!Number.isSafeInteger(t) || !/^[0-9a-f]{64}$/.test(v1)) return false;
  if (Math.abs(options.now / 1000 - t) > (options.toleranceSeconds ?? 300)) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(body).digest();
  return timingSafeEqual(expected, Buffer.from(v1, 'hex'));
}
