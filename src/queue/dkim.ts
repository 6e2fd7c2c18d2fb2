// DKIM (RFC 6376) for outgoing mail: one RSA-2048 key per domain, kept in the store
// (`pigeon dkim generate DOMAIN`), the DNS TXT record to publish (§3.6.1), and signing with
// mailauth (relaxed/relaxed, rsa-sha256) when the message's From domain has a key.
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { Store } from '../store/store.js';
import type { DkimKey } from '../store/queue-store.js';
import { getHeaderFields, fieldValue } from '../mail/headers.js';
import { parseAddressList } from '../mail/address.js';
import { BadCommand } from '../shared/errors.js';

export const defaultSelector = 'pigeon';

export interface DkimRecord {
  /** "selector._domainkey.domain" */
  name: string;
  /** The TXT value, e.g. "v=DKIM1; k=rsa; p=MIIB…". */
  value: string;
}

/** The TXT record that publishes this key (RFC 6376 §3.6.1). */
export function dkimRecord(key: DkimKey): DkimRecord {
  const der = createPublicKey(key.publicKey).export({ type: 'spki', format: 'der' });
  return { name: `${key.selector}._domainkey.${key.domain}`, value: `v=DKIM1; k=rsa; p=${der.toString('base64')}` };
}

/** Makes (or replaces) the domain's signing key; the caller prints dkimRecord(key). */
export async function generateDkimKey(store: Store, domain: string, options: { selector?: string; now?: number } = {}): Promise<DkimKey> {
  const name = domain.trim().toLowerCase();
  if (!(await store.getDomain(name))) throw new BadCommand(`${name} is not a local domain (add it with: pigeon domain add ${name})`);
  const selector = options.selector ?? defaultSelector;
  if (!/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/i.test(selector)) throw new BadCommand(`invalid selector ${JSON.stringify(selector)}: letters, digits and "-"`);
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key: DkimKey = {
    domain: name,
    selector,
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    createdAt: options.now ?? Date.now(),
  };
  await store.queue.putDkimKey(key);
  return key;
}

/** The domain of the message's (first) From address, lower-case, or null. */
export function fromDomain(raw: Buffer): string | null {
  const block = getHeaderFields(raw, 0);
  const value = fieldValue(raw, block, 'from');
  if (value === null) return null;
  const first = (parseAddressList(value) ?? []).find((a) => a.mailbox !== null && a.host !== null);
  return first?.host ? first.host.toLowerCase() : null;
}

/** The message with a DKIM-Signature prepended when its From domain has a key; else unchanged. */
export async function signMessage(store: Store, raw: Buffer, options: { now?: number } = {}): Promise<{ raw: Buffer; signedBy: string | null }> {
  const domain = fromDomain(raw);
  const key = domain ? await store.queue.getDkimKey(domain) : undefined;
  if (!key) return { raw, signedBy: null };
  // mailauth reads the keys from signatureData (the top-level fields of its typings are ignored).
  const signature = { signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey, canonicalization: 'relaxed/relaxed', algorithm: 'rsa-sha256' };
  const result = await dkimSign(raw, {
    ...signature,
    signatureData: [signature],
    ...(options.now !== undefined ? { signTime: new Date(options.now) } : {}),
  });
  if (result.errors.length > 0 || !result.signatures.trim()) throw new Error(`DKIM signing for ${key.domain} failed: ${JSON.stringify(result.errors).slice(0, 300)}`);
  return { raw: Buffer.concat([Buffer.from(result.signatures, 'latin1'), raw]), signedBy: key.domain };
}
