// Scripted SMTP transcripts (test/transcripts/smtp/*.txt), each against a fresh server:
//   "C: line"   sent with CRLF         "C+ line"  sent with CRLF, no reply expected before the next C:
//   "S: line"   next server line, exactly; "*" matches any text
//   "!listener NAME"   connect to smtp (default), submission, submissions or lmtp
//   "!mailbox ADDRESS N"   the INBOX of ADDRESS holds N messages
//   "!closed"   the server closed the connection
// A mismatch fails with the transcript line number and both texts.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { inbox, SmtpClient, withServer } from './harness.js';
import { repoRoot } from '../harness/transcript.js';

// The .txt files stay in the source tree (also when the test runs compiled from dist/).
const dir = path.join(repoRoot(), 'test', 'transcripts', 'smtp');

function matches(pattern: string, actual: string): boolean {
  const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(actual);
}

describe('SMTP transcripts', () => {
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    test(file, () =>
      withServer({}, async (s) => {
        const lines = fs.readFileSync(path.join(dir, file), 'utf8').split('\n');
        const listener = (lines.find((l) => l.startsWith('!listener ')) ?? '!listener smtp').split(' ')[1] as 'smtp' | 'submission' | 'lmtp';
        const c = await SmtpClient.connect(s.port(listener));
        try {
          for (let i = 0; i < lines.length; i++) {
            const line = lines[i]!;
            const where = `${file}:${i + 1}`;
            if (line.startsWith('C: ') || line === 'C:' || line.startsWith('C+ ')) c.write(`${line.slice(3)}\r\n`);
            else if (line.startsWith('S: ')) {
              const got = await c.readLine();
              assert.ok(got !== null && matches(line.slice(3), got), `${where}\n  expected: ${line.slice(3)}\n  got:      ${got}`);
            } else if (line.startsWith('!mailbox ')) {
              const [, address, n] = line.split(' ');
              assert.equal((await inbox(s.store, address!)).length, Number(n), where);
            } else if (line === '!closed') {
              await c.closed;
              assert.equal(await c.readLine(), null, `${where}: unexpected output before close`);
            }
          }
        } finally {
          c.close();
        }
      }),
    );
  }
});
