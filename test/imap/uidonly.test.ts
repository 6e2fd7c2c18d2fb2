// RFC 9586 UIDONLY, the request half as a table: which commands use message sequence numbers and
// are answered BAD [UIDREQUIRED] once UIDONLY is enabled (src/imap/session/uidonly.ts). The wire
// behaviour is in test/transcripts/imap/uidonly.txt.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAll } from '../../src/imap/wire/parser.js';
import type { Command } from '../../src/imap/wire/types.js';
import { sequenceNumberUse } from '../../src/imap/session/uidonly.js';

function command(line: string): Command {
  const [r] = parseAll(line + '\r\n');
  if (r?.kind !== 'command') assert.fail(`${line}: ${JSON.stringify(r)}`);
  return r.command;
}

const refused = [
  'A FETCH 1 FLAGS',
  'A FETCH $ FLAGS',
  'A STORE 1:* +FLAGS (\\Seen)',
  'A SEARCH ALL',
  'A SEARCH RETURN (SAVE) UID 1:5',
  'A COPY * Archive',
  'A MOVE 1 Archive',
  'A SORT (DATE) UTF-8 ALL',
  'A THREAD REFERENCES UTF-8 ALL',
  'A UID SEARCH 1:2',
  'A UID SEARCH *',
  'A UID SEARCH NOT (SEEN 4)',
  'A UID SEARCH OR UID 1 OR SEEN 2',
  'A UID SORT RETURN (MIN) (DATE) UTF-8 1:*',
  'A UID THREAD ORDEREDSUBJECT UTF-8 NOT 3',
  'A SELECT INBOX (QRESYNC (1 5 1:9 (1,3 1,3)))',
  'A EXAMINE INBOX (QRESYNC (1 5 (2 7)))',
];

const allowed = [
  'A UID FETCH 1:* FLAGS',
  'A UID FETCH $ FLAGS (CHANGEDSINCE 4 VANISHED)',
  'A UID STORE 1 +FLAGS (\\Seen)',
  'A UID SEARCH UID 1:* NOT UID 4',
  'A UID SEARCH $',
  'A UID SEARCH OR $ SEEN',
  'A UID COPY 1:* Archive',
  'A UID MOVE 5 Archive',
  'A UID EXPUNGE 1:3',
  'A EXPUNGE',
  'A UID SORT (DATE) UTF-8 UID 1:*',
  'A UID THREAD REFERENCES UTF-8 ALL',
  'A SELECT INBOX (QRESYNC (1 5 1:9))',
  'A EXAMINE INBOX (CONDSTORE)',
  'A NOOP',
  'A STATUS INBOX (MESSAGES)',
];

describe('UIDONLY: commands with message sequence numbers (RFC 9586 §3)', () => {
  for (const line of refused) {
    test(`${line} is refused`, () => {
      assert.equal(typeof sequenceNumberUse(command(line)), 'string');
    });
  }
  for (const line of allowed) {
    test(`${line} is allowed`, () => {
      assert.equal(sequenceNumberUse(command(line)), null);
    });
  }
});
