// A real client: Python's poplib against a started server (STLS, USER/PASS, STAT, LIST, UIDL,
// RETR, TOP, DELE, QUIT; and POP3_SSL on port 995), then the effect checked in the store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PASSWORD, USER, message, startFixture, type Pop3Fixture } from './fixture.js';

const SCRIPT = String.raw`
import json, poplib, ssl, sys
mode, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}
if mode == 'stls':
    p = poplib.POP3('127.0.0.1', port, timeout=20)
    out['welcome'] = p.getwelcome().decode()
    out['capa_before'] = sorted(p.capa().keys())
    out['stls'] = p.stls(ctx).decode()
else:
    p = poplib.POP3_SSL('127.0.0.1', port, context=ctx, timeout=20)
    out['welcome'] = p.getwelcome().decode()
out['capa'] = sorted(p.capa().keys())
p.user(user)
out['pass'] = p.pass_(password).decode()
out['stat'] = list(p.stat())
resp, lines, octets = p.list()
out['list'] = [l.decode() for l in lines]
resp, lines, octets = p.uidl()
out['uidl'] = [l.decode() for l in lines]
resp, lines, octets = p.retr(2)
out['retr2'] = [l.decode('latin-1') for l in lines]
resp, lines, octets = p.top(1, 0)
out['top1'] = [l.decode('latin-1') for l in lines]
out['dele'] = p.dele(1).decode()
out['quit'] = p.quit().decode()
print(json.dumps(out))
`;

function python(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface Result {
  welcome: string;
  capa_before?: string[];
  stls?: string;
  capa: string[];
  pass: string;
  stat: [number, number];
  list: string[];
  uidl: string[];
  retr2: string[];
  top1: string[];
  dele: string;
  quit: string;
}

describe("Python's poplib", () => {
  let f: Pop3Fixture;
  let script: string;
  const m1 = message('first');
  const m2 = message('second', 'Hello.\r\n.a line with a leading dot\r\n.\r\nend\r\n');
  before(async () => {
    f = await startFixture();
    script = join(f.dir, 'client.py');
    writeFileSync(script, SCRIPT);
  });
  after(() => f.close());

  for (const mode of ['stls', 'ssl'] as const) {
    test(`${mode === 'stls' ? 'STLS on port 110' : 'POP3_SSL on port 995'}: list, uidl, retr, top, dele, quit`, async () => {
      const uids = [await f.append(m1), await f.append(m2)];
      const run = await python([script, mode, String(mode === 'stls' ? f.port : f.tlsPort), USER, PASSWORD]);
      assert.equal(run.code, 0, run.stderr);
      const r = JSON.parse(run.stdout) as Result;
      const v = f.inbox.uidValidity;
      const size = (s: string): number => Buffer.byteLength(s);
      assert.equal(r.welcome, '+OK Pigeon POP3 server ready');
      if (mode === 'stls') {
        assert.deepEqual(r.capa_before, ['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'STLS', 'TOP', 'UIDL']);
        assert.equal(r.stls, '+OK Begin TLS negotiation');
      }
      assert.deepEqual(r.capa, ['AUTH-RESP-CODE', 'IMPLEMENTATION', 'PIPELINING', 'RESP-CODES', 'SASL', 'TOP', 'UIDL', 'USER']);
      assert.equal(r.pass, `+OK maildrop locked and ready: 2 messages (${size(m1) + size(m2)} octets)`);
      assert.deepEqual(r.stat, [2, size(m1) + size(m2)]);
      assert.deepEqual(r.list, [`1 ${size(m1)}`, `2 ${size(m2)}`]);
      assert.deepEqual(r.uidl, [`1 ${v}.${uids[0]}`, `2 ${v}.${uids[1]}`]);
      // poplib unstuffs and splits lines: the message comes back as it was stored.
      assert.deepEqual(r.retr2, m2.split('\r\n').slice(0, -1));
      assert.deepEqual(r.top1, [...m1.split('\r\n\r\n')[0]!.split('\r\n'), '']);
      assert.equal(r.dele, '+OK message 1 deleted');
      assert.equal(r.quit, '+OK Pigeon POP3 server signing off (1 message deleted)');
      // Message 1 expunged through the store; message 2 retrieved, so \Seen.
      const left = await f.store.listMessageStates(f.inbox.id);
      assert.deepEqual(left.map((s) => s.uid), [uids[1]]);
      assert.ok(left[0]!.flags.includes('\\Seen'));
      await f.store.expunge(f.inbox.id, [uids[1]!]);
    });
  }
});
