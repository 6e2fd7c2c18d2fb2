import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { buildHttpApp, buildHttpsApp } from '../../src/http/app.js';
import { silentLogger } from '../../src/shared/logger.js';
import { hashPassword } from '../../src/auth/passwords.js';

/** The <tag>…</tag> blocks of an XML text, each as a map of its simple child elements. */
function blocks(xml: string, tag: string): Array<Record<string, string>> {
  const out: Array<Record<string, string>> = [];
  for (const m of xml.matchAll(new RegExp(`<${tag}(?: type="([a-z0-9]+)"| [a-z]+="[^"]*")*>([\\s\\S]*?)</${tag}>`, 'g'))) {
    const fields: Record<string, string> = m[1] ? { type: m[1] } : {};
    for (const f of m[2]!.matchAll(/<([A-Za-z]+)>([^<]*)<\/\1>/g)) fields[f[1]!] = f[2]!;
    out.push(fields);
  }
  return out;
}

describe('client autoconfiguration', () => {
  let store: Store;
  let https: FastifyInstance;
  let http: FastifyInstance;
  before(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pigeon-http-'));
    const config = buildConfig({ hostname: 'mail.example.com', data_dir: dir }, { env: {} });
    store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
    await store.addDomain('example.com');
    await store.createAccount({ email: 'alice@example.com', passwordHash: await hashPassword('pw') });
    https = await buildHttpsApp({ config, store, logger: silentLogger() });
    http = await buildHttpApp({ config, store, logger: silentLogger() }, { httpsPort: 443 });
  });
  after(async () => {
    await https.close();
    await http.close();
    await store.close();
  });

  test('Thunderbird config lists implicit TLS (993, 465) before STARTTLS, on both paths and over plain HTTP', async () => {
    for (const [app, url] of [
      [https, '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=alice%40example.com'],
      [http, '/mail/config-v1.1.xml?emailaddress=alice@Example.com'],
    ] as const) {
      const res = await app.inject({ method: 'GET', url });
      assert.equal(res.statusCode, 200, url);
      assert.match(res.headers['content-type'] as string, /^application\/xml/);
      const incoming = blocks(res.body, 'incomingServer');
      const outgoing = blocks(res.body, 'outgoingServer');
      assert.deepEqual(incoming.map((s) => [s['type'], s['port'], s['socketType']]), [['imap', '993', 'SSL'], ['imap', '143', 'STARTTLS'], ['pop3', '995', 'SSL'], ['pop3', '110', 'STARTTLS']]);
      assert.deepEqual(outgoing.map((s) => [s['type'], s['port'], s['socketType']]), [['smtp', '465', 'SSL'], ['smtp', '587', 'STARTTLS']]);
      assert.ok([...incoming, ...outgoing].every((s) => s['hostname'] === 'mail.example.com' && s['username'] === '%EMAILADDRESS%'));
    }
  });

  test('autoconfig.<domain> is answered from the Host header; unknown domains get 404', async () => {
    const ok = await http.inject({ method: 'GET', url: '/mail/config-v1.1.xml', headers: { host: 'autoconfig.example.com' } });
    assert.equal(ok.statusCode, 200);
    assert.equal(blocks(ok.body, 'emailProvider').length, 1);
    const unknown = await http.inject({ method: 'GET', url: '/mail/config-v1.1.xml?emailaddress=x@other.example' });
    assert.equal(unknown.statusCode, 404);
  });

  test('Autodiscover POX answers on any letter case of the path, IMAP 993 first', async () => {
    const request = '<?xml version="1.0"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006"><Request><EMailAddress>alice@example.com</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>';
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml', '/AUTODISCOVER/AUTODISCOVER.XML']) {
      const res = await https.inject({ method: 'POST', url: path, headers: { 'content-type': 'text/xml' }, payload: request });
      assert.equal(res.statusCode, 200, path);
      const protocols = blocks(res.body, 'Protocol');
      assert.deepEqual(protocols.map((p) => [p['Type'], p['Port'], p['SSL']]), [['IMAP', '993', 'on'], ['IMAP', '143', 'off'], ['SMTP', '465', 'on'], ['SMTP', '587', 'off']]);
      assert.ok(protocols.every((p) => p['LoginName'] === 'alice@example.com' && p['Server'] === 'mail.example.com'));
    }
    const unknown = await https.inject({ method: 'POST', url: '/autodiscover/autodiscover.xml', headers: { 'content-type': 'text/xml' }, payload: request.replace('example.com', 'else.example') });
    assert.equal(unknown.statusCode, 404);
  });

  test('the Apple profile is per account and carries no password', async () => {
    const res = await https.inject({ method: 'GET', url: '/.well-known/apple/mail.mobileconfig?email=alice@example.com' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^application\/x-apple-aspen-config/);
    const keys = Object.fromEntries([...res.body.matchAll(/<key>([A-Za-z]+)<\/key>\s*<(string|integer)>([^<]*)<\/\2>/g)].map((m) => [m[1], m[3]]));
    assert.equal(keys['IncomingMailServerPortNumber'], '993');
    assert.equal(keys['OutgoingMailServerPortNumber'], '465');
    assert.equal(keys['IncomingMailServerUsername'], 'alice@example.com');
    assert.equal(/Password<\/key>\s*<string>/.test(res.body), false, 'no password field with a value');
    assert.equal((await https.inject({ method: 'GET', url: '/.well-known/apple/mail.mobileconfig?email=nobody@example.com' })).statusCode, 404);
  });

  test('plain HTTP redirects everything else to HTTPS', async () => {
    const res = await http.inject({ method: 'GET', url: '/admin/?x=1', headers: { host: 'mail.example.com' } });
    assert.equal(res.statusCode, 301);
    assert.equal(res.headers['location'], 'https://mail.example.com/admin/?x=1');
  });
});
