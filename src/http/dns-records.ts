// The DNS records an administrator publishes for a domain served by this Pigeon: MX (RFC 5321
// §5.1), SPF (RFC 7208), DMARC (RFC 7489 §6.1), DKIM (RFC 6376 §3.6.1) when a key exists, the SRV
// records of RFC 6186 §3 with RFC 8314 §5.1 (implicit TLS preferred: priority 0 for _imaps,
// _submissions, _pop3s; 10 for the STARTTLS services), and the autoconfig/autodiscover names the
// HTTP side answers. A disabled service is published with target "." (RFC 6186 §4: "not available").
import type { Config } from '../config/schema.js';

export interface DnsRecord {
  name: string;
  type: 'MX' | 'TXT' | 'SRV' | 'CNAME';
  value: string;
  /** Why, in a few words. */
  note: string;
}

function portOf(address: string): number | null {
  if (address === '') return null;
  const m = /:(\d+)$/.exec(address);
  const port = m ? Number(m[1]) : 0;
  return port > 0 ? port : null;
}

/** `ports` overrides the configured port of a listener (ephemeral ports in tests). */
export function dnsRecords(config: Config, domain: string, options: { dkim?: { name: string; value: string }; ports?: Record<string, number> } = {}): DnsRecord[] {
  const d = domain.toLowerCase();
  const host = `${config.hostname.toLowerCase()}.`;
  const port = (listener: keyof Config['listen']): number | null => (config.listen[listener] === '' ? null : options.ports?.[listener] ?? portOf(config.listen[listener]));
  const srv = (service: string, listener: keyof Config['listen'], priority: number, what: string): DnsRecord => {
    const p = port(listener);
    return {
      name: `_${service}._tcp.${d}.`,
      type: 'SRV',
      value: p === null ? '0 0 0 .' : `${priority} 1 ${p} ${host}`,
      note: p === null ? `${what}: not offered (RFC 6186 §4)` : what,
    };
  };
  const records: DnsRecord[] = [
    { name: `${d}.`, type: 'MX', value: `10 ${host}`, note: 'mail for the domain comes here' },
    { name: `${d}.`, type: 'TXT', value: '"v=spf1 mx -all"', note: 'SPF: only the MX host sends mail for the domain' },
    { name: `_dmarc.${d}.`, type: 'TXT', value: `"v=DMARC1; p=quarantine; rua=mailto:postmaster@${d}"`, note: 'DMARC policy and aggregate reports' },
  ];
  if (options.dkim) {
    records.push({ name: `${options.dkim.name.replace(/\.$/, '')}.`, type: 'TXT', value: `"${options.dkim.value}"`, note: 'DKIM public key (outgoing mail is signed with it)' });
  }
  records.push(
    srv('imaps', 'imaps', 0, 'IMAP over TLS'),
    srv('imap', 'imap', 10, 'IMAP with STARTTLS'),
    srv('submissions', 'submissions', 0, 'submission over TLS (RFC 8314)'),
    srv('submission', 'submission', 10, 'submission with STARTTLS'),
    srv('pop3s', 'pop3s', 0, 'POP3 over TLS'),
    srv('pop3', 'pop3', 10, 'POP3 with STARTTLS'),
    { name: `autoconfig.${d}.`, type: 'CNAME', value: host, note: 'Thunderbird autoconfiguration' },
    { name: `autodiscover.${d}.`, type: 'CNAME', value: host, note: 'Outlook autodiscover' },
  );
  return records;
}
