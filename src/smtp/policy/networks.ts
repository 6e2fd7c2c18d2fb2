// My Networks: is a client address inside one of the configured CIDR ranges? Pure, no store.
import ipaddr from 'ipaddr.js';

export type ParsedNetwork = [ipaddr.IPv4 | ipaddr.IPv6, number];

/** Parse CIDRs, skipping (and naming) the unusable ones. */
export function parseNetworks(cidrs: string[]): { networks: ParsedNetwork[]; invalid: string[] } {
  const networks: ParsedNetwork[] = [];
  const invalid: string[] = [];
  for (const c of cidrs) {
    try {
      networks.push(c.includes('/') ? ipaddr.parseCIDR(c) : [ipaddr.parse(c), ipaddr.parse(c).kind() === 'ipv4' ? 32 : 128]);
    } catch {
      invalid.push(c);
    }
  }
  return { networks, invalid };
}

/** IPv4-mapped IPv6 addresses are compared as IPv4. */
export function inNetworks(address: string, networks: ParsedNetwork[]): boolean {
  if (!ipaddr.isValid(address)) return false;
  let ip = ipaddr.parse(address);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) ip = (ip as ipaddr.IPv6).toIPv4Address();
  for (const [range, bits] of networks) {
    if (range.kind() !== ip.kind()) continue;
    if (ip.match([range, bits] as [typeof ip, number])) return true;
  }
  return false;
}
