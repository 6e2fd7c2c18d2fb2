// URLAUTH (RFC 4467) round trip against a started server: GENURLAUTH, URLFETCH, RESETKEY, and the
// resolveUrlauth entry the SMTP BURL handler calls; plus the RFC 5092 URL parser's edge cases.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient, startTestServer, type TestServer } from '../harness/transcript.js';
import { parseImapUrl, ImapUrlError } from '../../src/imap/imap-url.js';
import { resolveUrlauth, UrlauthError } from '../../src/imap/urlauth.js';

const RAW = 'From: a@example.org\r\nSubject: Forward me\r\nContent-Type: text/plain\r\n\r\nThe body.\r\n';
const BASE = 'imap://user@example.com@mail.example.com/INBOX/;UID=1';

describe('IMAP URLs (RFC 5092)', () => {
  test('absolute URL with UIDVALIDITY, section, partial and URLAUTH', () => {
    const u = parseImapUrl('imap://joe%40example.com@Mail.Example.com/INBOX;UIDVALIDITY=7/;UID=20/;SECTION=1.2/;PARTIAL=0.10;EXPIRE=2030-01-01T00:00:00Z;URLAUTH=submit+joe@example.com:internal:91354A473744909DE610943775F92038');
    assert.equal(u.user, 'joe@example.com');
    assert.equal(u.host, 'mail.example.com');
    assert.equal(u.mailbox, 'INBOX');
    assert.equal(u.uidValidity, 7);
    assert.equal(u.uid, 20);
    assert.deepEqual(u.section, { part: [1, 2] });
    assert.deepEqual(u.partial, { offset: 0, length: 10 });
    assert.equal(u.expire, Date.UTC(2030, 0, 1));
    assert.equal(u.access, 'submit+joe@example.com');
    assert.equal(u.mechanism, 'INTERNAL');
    assert.equal(u.token, '91354a473744909de610943775f92038');
    assert.ok(u.rump!.endsWith(';URLAUTH=submit+joe@example.com'));
  });

  test('relative URL with a percent-encoded mailbox and a HEADER section', () => {
    const u = parseImapUrl('/Lists%2Frust/;UID=3/;SECTION=HEADER');
    assert.equal(u.mailbox, 'Lists/rust');
    assert.deepEqual(u.section, { part: [], text: 'HEADER' });
    assert.equal(u.user, undefined);
  });

  for (const bad of ['/INBOX', '/INBOX/;UID=0', 'http://x/INBOX/;UID=1', '/INBOX/;SECTION=1', '/INBOX/;UID=1/;SECTION=HEADER.FIELDS%20(FROM)', '/INBOX/;UID=1 x', '/%ZZ/;UID=1', `/${'a'.repeat(9000)}/;UID=1`]) {
    test(`refuses ${bad.slice(0, 40)}`, () => assert.throws(() => parseImapUrl(bad), ImapUrlError));
  }
});

describe('URLAUTH', () => {
  let server: TestServer;
  let client: LineClient;
  let other: LineClient;

  before(async () => {
    server = await startTestServer();
    await server.deliver(RAW, 'user@example.com');
    client = await LineClient.connect(server.port);
    await client.readLine();
    assert.match((await client.command('a1', 'LOGIN user@example.com pass')).at(-1)!, /URLAUTH/);
    other = await LineClient.connect(server.port);
    await other.readLine();
    await other.command('b1', 'LOGIN other@example.com pass');
  });
  after(async () => {
    client.send('z LOGOUT');
    other.send('z LOGOUT');
    await client.waitClosed();
    await other.waitClosed();
    await server.close();
  });

  async function gen(rump: string): Promise<string> {
    const reply = await client.command('g', `GENURLAUTH "${rump}" INTERNAL`);
    assert.equal(reply.at(-1), 'g OK GENURLAUTH completed');
    const m = /^\* GENURLAUTH "(.*)"$/.exec(reply[0]!);
    assert.ok(m, reply[0]);
    assert.match(m[1]!, /:internal:[0-9a-f]{64}$/);
    return m[1]!;
  }

  test('an authuser URL is readable by another user with URLFETCH, a tampered one is NIL', async () => {
    const url = await gen(`${BASE}/;SECTION=TEXT;URLAUTH=authuser`);
    assert.deepEqual(await other.command('f1', `URLFETCH "${url}"`), [`* URLFETCH "${url}" {11}`, 'The body.', '', 'f1 OK URLFETCH completed']);
    const tampered = url.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    assert.deepEqual(await other.command('f2', `URLFETCH "${tampered}"`), [`* URLFETCH "${tampered}" NIL`, 'f2 OK URLFETCH completed']);
  });

  test('a submit+ URL resolves for the submission user only, and RESETKEY revokes it', async () => {
    const url = await gen(`${BASE};URLAUTH=submit+user@example.com`);
    assert.equal((await resolveUrlauth(server.store, url, { submitUser: 'user@example.com', hostname: 'mail.example.com' })).toString(), RAW);
    await assert.rejects(resolveUrlauth(server.store, url, { submitUser: 'other@example.com' }), UrlauthError);
    // An IMAP user is not the submission server.
    assert.deepEqual(await client.command('f3', `URLFETCH "${url}"`), [`* URLFETCH "${url}" NIL`, 'f3 OK URLFETCH completed']);
    assert.deepEqual(await client.command('r1', 'RESETKEY INBOX INTERNAL'), ['r1 OK RESETKEY completed']);
    await assert.rejects(resolveUrlauth(server.store, url, { submitUser: 'user@example.com' }), /bad token/);
  });

  test('an expired URL is refused', async () => {
    const url = await gen(`${BASE};EXPIRE=2020-01-01T00:00:00Z;URLAUTH=anonymous`);
    await assert.rejects(resolveUrlauth(server.store, url, { submitUser: 'user@example.com' }), /expired/);
  });

  test('GENURLAUTH refuses another user, an unknown mailbox and an unknown mechanism', async () => {
    assert.match((await client.command('e1', 'GENURLAUTH "imap://other@example.com@mail.example.com/INBOX/;UID=1;URLAUTH=anonymous" INTERNAL')).at(-1)!, /^e1 NO \[BADURL .*\] Bad URL: the URL names another user$/);
    assert.match((await client.command('e2', `GENURLAUTH "imap://user@example.com@mail.example.com/Nope/;UID=1;URLAUTH=anonymous" INTERNAL`)).at(-1)!, /^e2 NO \[BADURL .*\] Bad URL: no such mailbox$/);
    assert.match((await client.command('e3', `GENURLAUTH "${BASE};URLAUTH=anonymous" XSHA1`)).at(-1)!, /^e3 NO \[CANNOT\] Unknown URLAUTH mechanism XSHA1$/);
  });
});
