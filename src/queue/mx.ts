// Where mail for a domain goes: MX hosts in preference order (RFC 5321 §5.1), falling back to the
// domain's own A/AAAA ("implicit MX") when it has no MX records, and a null MX (RFC 7505: a
// single "0 ." record) meaning the domain accepts no mail at all. DNS goes through an injectable
// resolver so tests (and a later caching resolver) can stand in for node:dns.
import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';

/** The slice of node:dns/promises the queue uses. */
export interface QueueResolver {
  resolveMx(domain: string): Promise<Array<{ exchange: string; priority: number }>>;
  resolve4(host: string): Promise<string[]>;
  resolve6(host: string): Promise<string[]>;
}

export const systemResolver: QueueResolver = {
  resolveMx: (d) => dns.resolveMx(d),
  resolve4: (h) => dns.resolve4(h),
  resolve6: (h) => dns.resolve6(h),
};

/** One host to try: its name (for SNI and logs) and its addresses. */
export interface MxHost {
  name: string;
  addresses: string[];
}

export type Route =
  | { kind: 'hosts'; hosts: MxHost[] }
  /** No delivery possible: permanent (null MX, no such domain) or temporary (DNS trouble). */
  | { kind: 'error'; permanent: boolean; status: string; message: string };

/** Hosts tried per domain (RFC 5321 §5.1: a client SHOULD limit the attempts). */
export const maxMxHosts = 5;
const domainRe = /^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)(\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?)*\.?$/i;

function dnsCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
}

/** Not-found answers (the name or the record type does not exist), as opposed to DNS failures. */
const notFound = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN']);

async function addresses(resolver: QueueResolver, host: string): Promise<{ list: string[]; temporary: boolean }> {
  if (isIP(host)) return { list: [host], temporary: false };
  const [v4, v6] = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)]);
  const list = [...(v4.status === 'fulfilled' ? v4.value : []), ...(v6.status === 'fulfilled' ? v6.value : [])];
  const temporary = [v4, v6].some((r) => r.status === 'rejected' && !notFound.has(dnsCode(r.reason)));
  return { list, temporary };
}

/** The route to `domain` (lower-case ASCII/IDNA, or an address literal "[192.0.2.1]" / "[IPv6:…]"). */
export async function resolveRoute(domain: string, resolver: QueueResolver): Promise<Route> {
  const literal = /^\[(?:IPv6:)?([0-9a-f:.]+)\]$/i.exec(domain);
  if (literal) {
    return isIP(literal[1]!) ? { kind: 'hosts', hosts: [{ name: literal[1]!, addresses: [literal[1]!] }] }
      : { kind: 'error', permanent: true, status: '5.1.2', message: `bad address literal ${domain}` };
  }
  if (!domainRe.test(domain)) return { kind: 'error', permanent: true, status: '5.1.2', message: `bad destination domain ${JSON.stringify(domain.slice(0, 100))}` };
  let mx: Array<{ exchange: string; priority: number }>;
  try {
    mx = await resolver.resolveMx(domain);
  } catch (err) {
    const code = dnsCode(err);
    if (code === 'ENOTFOUND' || code === 'NXDOMAIN') return { kind: 'error', permanent: true, status: '5.1.2', message: `domain ${domain} does not exist` };
    if (code !== 'ENODATA') return { kind: 'error', permanent: false, status: '4.4.3', message: `DNS lookup of MX ${domain} failed: ${code || String(err)}` };
    mx = [];
  }
  // RFC 7505 §3: a null MX is one record of preference 0 with the root as exchange.
  if (mx.some((m) => m.exchange === '' || m.exchange === '.')) {
    if (mx.length === 1) return { kind: 'error', permanent: true, status: '5.1.10', message: `domain ${domain} accepts no mail (null MX, RFC 7505)` };
    mx = mx.filter((m) => m.exchange !== '' && m.exchange !== '.');
  }
  if (mx.length === 0) {
    // RFC 5321 §5.1: no MX records → the domain itself is the implicit MX.
    const a = await addresses(resolver, domain);
    if (a.list.length > 0) return { kind: 'hosts', hosts: [{ name: domain, addresses: a.list }] };
    return a.temporary ? { kind: 'error', permanent: false, status: '4.4.3', message: `DNS lookup of ${domain} failed` }
      : { kind: 'error', permanent: true, status: '5.1.2', message: `domain ${domain} has no MX and no address` };
  }
  // Lowest preference first; equal preferences in random order (RFC 5321 §5.1).
  const ordered = mx.map((m) => ({ ...m, r: Math.random() })).sort((a, b) => a.priority - b.priority || a.r - b.r).slice(0, maxMxHosts);
  const hosts: MxHost[] = [];
  let temporary = false;
  for (const m of ordered) {
    const name = m.exchange.replace(/\.$/, '').toLowerCase();
    const a = await addresses(resolver, name);
    temporary ||= a.temporary;
    if (a.list.length > 0) hosts.push({ name, addresses: a.list });
  }
  if (hosts.length > 0) return { kind: 'hosts', hosts };
  return { kind: 'error', permanent: false, status: '4.4.4', message: `no address for the MX hosts of ${domain}${temporary ? ' (DNS failure)' : ''}` };
}
