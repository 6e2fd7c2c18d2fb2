// Runs every IMAP transcript (test/transcripts/imap/*.txt) against a fresh server and store, on
// SQLite always and on PostgreSQL when reachable (test/harness/engines.ts).
import { describe, test } from 'node:test';
import fs from 'node:fs';
import path from 'node:path';
import { runTranscript, TRANSCRIPTS } from '../harness/transcript.js';
import { engines } from '../harness/engines.js';

const dir = TRANSCRIPTS;
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.txt')).sort();

for (const engine of engines) {
  describe(`IMAP transcripts (${engine})`, () => {
    for (const file of files) {
      const first = fs.readFileSync(path.join(dir, file), 'utf8').split('\n')[0]!.replace(/^#\s*/, '');
      test(`${file}: ${first}`, async () => {
        await runTranscript(path.join(dir, file), { engine });
      });
    }
  });
}
