// Mail client autoconfiguration, so a phone or desktop client needs only the address and password:
// Thunderbird's config-v1.1.xml (autoconfig.<domain>/mail/ and /.well-known/autoconfig/mail/),
// Outlook's Autodiscover POX (/autodiscover/autodiscover.xml, any letter case) and an Apple
// .mobileconfig profile per account, never with the password. Implicit TLS (993, 465, 995) is
// listed before STARTTLS (143, 587, 110), as RFC 8314 recommends.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';

export interface MailEndpoint {
  protocol: 'imap' | 'pop3' | 'smtp';
  host: string;
  port: number;
  security: 'tls' | 'starttls';
}

function portOf(address: string): number | null {
  const m = /:(\d+)$/.exec(address);
  return address === '' || !m ? null : Number(m[1]);
}

/** The endpoints a client should use, best first (implicit TLS first). */
export function mailEndpoints(config: Config): MailEndpoint[] {
  const host = config.hostname;
  const list: Array<[MailEndpoint['protocol'], string, MailEndpoint['security']]> = [
    ['imap', config.listen.imaps, 'tls'], ['imap', config.listen.imap, 'starttls'],
    ['pop3', config.listen.pop3s, 'tls'], ['pop3', config.listen.pop3, 'starttls'],
    ['smtp', config.listen.submissions, 'tls'], ['smtp', config.listen.submission, 'starttls'],
  ];
  const out: MailEndpoint[] = [];
  for (const [protocol, address, security] of list) {
    const port = portOf(address);
    if (port !== null && port !== 0) out.push({ protocol, host, port, security });
  }
  return out;
}

const xmlEscape = (s: string) => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);

export function thunderbirdConfig(config: Config, domain: string): string {
  const servers = mailEndpoints(config).map((e) => {
    const tag = e.protocol === 'smtp' ? 'outgoingServer' : 'incomingServer';
    return [
      `    <${tag} type="${e.protocol}">`,
      `      <hostname>${xmlEscape(e.host)}</hostname>`,
      `      <port>${e.port}</port>`,
      `      <socketType>${e.security === 'tls' ? 'SSL' : 'STARTTLS'}</socketType>`,
      `      <authentication>password-cleartext</authentication>`,
      `      <username>%EMAILADDRESS%</username>`,
      `    </${tag}>`,
    ].join('\n');
  });
  // Thunderbird wants incoming servers before outgoing ones.
  servers.sort((a, b) => Number(a.includes('outgoingServer')) - Number(b.includes('outgoingServer')));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<clientConfig version="1.1">',
    `  <emailProvider id="${xmlEscape(domain)}">`,
    `    <domain>${xmlEscape(domain)}</domain>`,
    `    <displayName>${xmlEscape(domain)} mail</displayName>`,
    `    <displayShortName>${xmlEscape(domain)}</displayShortName>`,
    ...servers,
    '  </emailProvider>',
    '</clientConfig>',
    '',
  ].join('\n');
}

export function autodiscoverResponse(config: Config, email: string): string {
  const protocols = mailEndpoints(config)
    .filter((e) => e.protocol !== 'pop3')
    .map((e) => [
      '      <Protocol>',
      `        <Type>${e.protocol.toUpperCase()}</Type>`,
      `        <Server>${xmlEscape(e.host)}</Server>`,
      `        <Port>${e.port}</Port>`,
      `        <LoginName>${xmlEscape(email)}</LoginName>`,
      '        <DomainRequired>off</DomainRequired>',
      '        <SPA>off</SPA>',
      `        <SSL>${e.security === 'tls' ? 'on' : 'off'}</SSL>`,
      ...(e.security === 'starttls' ? ['        <Encryption>TLS</Encryption>'] : []),
      '        <AuthRequired>on</AuthRequired>',
      '      </Protocol>',
    ].join('\n'));
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">',
    '  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a">',
    '    <Account>',
    '      <AccountType>email</AccountType>',
    '      <Action>settings</Action>',
    ...protocols,
    '    </Account>',
    '  </Response>',
    '</Autodiscover>',
    '',
  ].join('\n');
}

export function appleMobileconfig(config: Config, email: string): string {
  const imap = mailEndpoints(config).find((e) => e.protocol === 'imap');
  const smtp = mailEndpoints(config).find((e) => e.protocol === 'smtp');
  const [, domain] = email.split('@') as [string, string];
  const reverse = domain.split('.').reverse().join('.');
  const entry = (k: string, v: string | number | boolean) =>
    `\t\t\t<key>${k}</key>\n\t\t\t${typeof v === 'boolean' ? `<${v}/>` : typeof v === 'number' ? `<integer>${v}</integer>` : `<string>${xmlEscape(v)}</string>`}`;
  const mail = [
    entry('EmailAccountDescription', email),
    entry('EmailAccountType', 'EmailTypeIMAP'),
    entry('EmailAddress', email),
    entry('IncomingMailServerAuthentication', 'EmailAuthPassword'),
    entry('IncomingMailServerHostName', imap?.host ?? config.hostname),
    entry('IncomingMailServerPortNumber', imap?.port ?? 993),
    entry('IncomingMailServerUseSSL', (imap?.security ?? 'tls') === 'tls'),
    entry('IncomingMailServerUsername', email),
    entry('OutgoingMailServerAuthentication', 'EmailAuthPassword'),
    entry('OutgoingMailServerHostName', smtp?.host ?? config.hostname),
    entry('OutgoingMailServerPortNumber', smtp?.port ?? 465),
    entry('OutgoingMailServerUseSSL', (smtp?.security ?? 'tls') === 'tls'),
    entry('OutgoingMailServerUsername', email),
    entry('OutgoingPasswordSameAsIncomingPassword', true),
    entry('PayloadDisplayName', email),
    entry('PayloadIdentifier', `${reverse}.pigeon.mail.${email}`),
    entry('PayloadType', 'com.apple.mail.managed'),
    entry('PayloadUUID', randomUUID().toUpperCase()),
    entry('PayloadVersion', 1),
    entry('SMIMEEnabled', false),
  ].join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    '<dict>',
    '\t<key>PayloadContent</key>',
    '\t<array>',
    '\t\t<dict>',
    mail,
    '\t\t</dict>',
    '\t</array>',
    `\t<key>PayloadDisplayName</key>\n\t<string>${xmlEscape(domain)} mail</string>`,
    `\t<key>PayloadIdentifier</key>\n\t<string>${xmlEscape(reverse)}.pigeon.${xmlEscape(email)}</string>`,
    '\t<key>PayloadRemovalDisallowed</key>\n\t<false/>',
    '\t<key>PayloadType</key>\n\t<string>Configuration</string>',
    `\t<key>PayloadUUID</key>\n\t<string>${randomUUID().toUpperCase()}</string>`,
    '\t<key>PayloadVersion</key>\n\t<integer>1</integer>',
    '</dict>',
    '</plist>',
    '',
  ].join('\n');
}

const AUTODISCOVER_PATH = '/autodiscover/autodiscover.xml';

/** Fastify `rewriteUrl`: Outlook asks for /Autodiscover/Autodiscover.xml in any letter case. */
export function rewriteAutodiscoverUrl(url: string): string {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  return path.toLowerCase() === AUTODISCOVER_PATH ? AUTODISCOVER_PATH + (q === -1 ? '' : url.slice(q)) : url;
}

function emailDomain(email: string | undefined): string | null {
  if (!email || email.length > 320) return null;
  const at = email.lastIndexOf('@');
  return at > 0 ? email.slice(at + 1).toLowerCase() : null;
}

/** Registers the autoconfiguration routes (served on HTTP and HTTPS). */
export async function autoconfigPlugin(app: FastifyInstance, opts: { config: Config; store: Store }): Promise<void> {
  const { config, store } = opts;
  const known = async (domain: string | null) => domain !== null && (await store.getDomain(domain)) !== undefined;
  const notFound = (reply: FastifyReply) => reply.code(404).type('text/plain').send('no mail service for this domain\n');

  const thunderbird = async (req: { query: unknown; headers: Record<string, string | string[] | undefined> }, reply: FastifyReply) => {
    const q = req.query as Record<string, string | undefined>;
    // autoconfig.<domain>/mail/config-v1.1.xml carries the domain in the Host header.
    const host = String(req.headers['host'] ?? '').replace(/:\d+$/, '').toLowerCase();
    const domain = emailDomain(q['emailaddress']) ?? (host.startsWith('autoconfig.') ? host.slice('autoconfig.'.length) : null);
    if (!(await known(domain))) return notFound(reply);
    return reply.type('application/xml; charset=utf-8').send(thunderbirdConfig(config, domain!));
  };
  app.get('/.well-known/autoconfig/mail/config-v1.1.xml', thunderbird);
  app.get('/mail/config-v1.1.xml', thunderbird);

  app.addContentTypeParser(['text/xml', 'application/xml'], { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => done(null, body));
  app.post(AUTODISCOVER_PATH, async (req, reply) => {
    const body = typeof req.body === 'string' ? req.body : '';
    const email = /<EMailAddress>\s*([^<\s]+)\s*<\/EMailAddress>/i.exec(body)?.[1];
    if (!email || !(await known(emailDomain(email)))) return notFound(reply);
    return reply.type('application/xml; charset=utf-8').send(autodiscoverResponse(config, email));
  });

  app.get('/.well-known/apple/mail.mobileconfig', async (req, reply) => {
    const email = (req.query as Record<string, string | undefined>)['email'];
    if (!email || !(await store.getAccountByEmail(email.replace(/@([^@]+)$/, (_m, d: string) => `@${d.toLowerCase()}`)))) return notFound(reply);
    return reply
      .type('application/x-apple-aspen-config; charset=utf-8')
      .header('content-disposition', `attachment; filename="${email.replace(/[^A-Za-z0-9@._-]/g, '_')}.mobileconfig"`)
      .send(appleMobileconfig(config, email));
  });
}
