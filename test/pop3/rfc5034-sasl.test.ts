// RFC 5034 AUTH with the PLAIN mechanism (RFC 4616): initial response, continuation, cancel.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Client, PASSWORD, USER, startFixture, type Pop3Fixture } from './fixture.js';

const plain = (authzid: string, user: string, password: string): string => Buffer.from(`${authzid}\0${user}\0${password}`).toString('base64');
const READY = '+OK maildrop locked and ready: 0 messages (0 octets)';
const MALFORMED = '-ERR [AUTH] malformed AUTH PLAIN response (RFC 4616)';
const INVALID = '-ERR [AUTH] invalid user name or password (log in with your full email address)';

describe('RFC 5034 §4 AUTH PLAIN', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  // Each case: lines sent, one after the other, and the reply to each.
  const cases: Array<[string, Array<[string, string]>]> = [
    ['initial response logs in', [[`AUTH PLAIN ${plain('', USER, PASSWORD)}`, READY]]],
    ['mechanism name in any case', [[`AUTH plain ${plain('', USER, PASSWORD)}`, READY]]],
    ['authzid equal to the user is accepted', [[`AUTH PLAIN ${plain(USER, USER, PASSWORD)}`, READY]]],
    ['continuation: empty challenge, then the response', [['AUTH PLAIN', '+ '], [plain('', USER, PASSWORD), READY]]],
    ['"*" cancels the exchange', [['AUTH PLAIN', '+ '], ['*', '-ERR authentication cancelled'], ['STAT', '-ERR STAT is not valid before login']]],
    ['wrong password', [[`AUTH PLAIN ${plain('', USER, 'wrong')}`, INVALID]]],
    ['wrong password by continuation', [['AUTH PLAIN', '+ '], [plain('', USER, 'wrong'), INVALID]]],
    ['"=" is an empty initial response, which PLAIN cannot use', [['AUTH PLAIN =', MALFORMED]]],
    ['not base64', [['AUTH PLAIN %%%%', MALFORMED]]],
    ['no NUL separators', [[`AUTH PLAIN ${Buffer.from(`${USER} ${PASSWORD}`).toString('base64')}`, MALFORMED]]],
    ['acting as another user is refused', [[`AUTH PLAIN ${plain('bob@example.com', USER, PASSWORD)}`, MALFORMED]]],
    ['continuation line that is not base64', [['AUTH PLAIN', '+ '], ['hello there', MALFORMED]]],
    ['LOGIN is not offered', [['AUTH LOGIN', '-ERR SASL mechanism LOGIN is not supported; use PLAIN']]],
    ['unknown mechanism', [['AUTH CRAM-MD5', '-ERR SASL mechanism CRAM-MD5 is not supported; use PLAIN']]],
  ];
  for (const [name, steps] of cases) {
    test(name, async () => {
      const c = await Pop3Client.connect(f.tlsPort, { tls: true });
      await c.readLine();
      for (const [line, reply] of steps) assert.equal(await c.command(line), reply, line);
      await c.command('QUIT');
      await c.closed();
    });
  }

  test('bare AUTH lists the mechanisms', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    assert.deepEqual(await c.multi('AUTH'), ['+OK SASL mechanisms follow', ['PLAIN']]);
    c.destroy();
  });
});
