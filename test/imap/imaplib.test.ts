// Python's imaplib (python3 subprocess) against a started server: LOGINDISABLED before TLS,
// STARTTLS, LIST, SELECT, headers-only and partial fetch, APPEND to Sent with APPENDUID, SEARCH
// SINCE, UID MOVE with COPYUID, implicit TLS with an alias login.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { FIXTURES, repoRoot, startTestServer } from '../harness/transcript.js';

function python(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('python3', args, { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

test('imaplib logs in after STARTTLS, fetches headers and ranges, appends to Sent and moves', async () => {
  const server = await startTestServer({ config: { auth: { allow_plaintext: false } } });
  try {
    const fixture = path.join(FIXTURES, 'simple.eml');
    const raw = fs.readFileSync(fixture);
    await server.deliver(raw, 'user@example.com');
    await server.deliver(fs.readFileSync(path.join(FIXTURES, 'lunch.eml')), 'user@example.com');
    const out = JSON.parse(await python([path.join(repoRoot(), 'test/imap/imaplib-client.py'), String(server.port), String(server.tlsPort), fixture])) as Record<string, unknown>;
    const before = out['caps_before_tls'] as string[];
    assert.ok(before.includes('LOGINDISABLED'));
    assert.ok(before.includes('STARTTLS'));
    assert.ok(!before.includes('AUTH=PLAIN'));
    assert.match(String(out['login_before_tls']), /PRIVACYREQUIRED/);
    const after = out['caps_after_tls'] as string[];
    assert.ok(after.includes('AUTH=PLAIN'));
    assert.ok(!after.includes('LOGINDISABLED'));
    assert.ok(!after.includes('STARTTLS'));
    assert.equal(out['login'], 'OK');
    assert.ok((out['list'] as string[]).includes('(\\HasNoChildren \\Sent) "/" "Sent"'));
    assert.deepEqual(out['select'], ['OK', '2']);
    const headerEnd = raw.indexOf('\r\n\r\n') + 4;
    assert.equal(out['header'], raw.subarray(0, headerEnd).toString());
    assert.equal(out['partial_len'], raw.length);
    assert.equal(out['partial_same'], true);
    assert.equal(out['size_flags'], `1 (RFC822.SIZE ${raw.length} FLAGS (\\Recent))`);
    const [appendStatus, appendText] = out['append'] as [string, string];
    assert.equal(appendStatus, 'OK');
    assert.match(appendText, /^\[APPENDUID \d+ 1\] APPEND completed$/);
    assert.equal(out['search'], '1 2');
    assert.equal(out['move'], 'OK');
    assert.ok((out['move_untagged'] as string[]).some((l) => /^\[COPYUID \d+ 1 1\] Moved$/.test(l)), String(out['move_untagged']));
    assert.equal(out['status'], '"Archive" (MESSAGES 1)');
    assert.equal(out['alias_login_tls'], 'OK');
  } finally {
    await server.close();
  }
});
