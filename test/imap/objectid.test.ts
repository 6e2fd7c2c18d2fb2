// RFC 8474 OBJECTID, the values themselves (transcripts/imap/objectid.txt has the wire shapes):
// one MAILBOXID per mailbox whether CREATE, SELECT, EXAMINE, STATUS or LIST-STATUS reports it,
// kept by RENAME; EMAILID kept by COPY and MOVE (§5.1) with its THREADID; a reply in the thread of
// the message it answers; SEARCH EMAILID / THREADID finding them. On SQLite and PostgreSQL.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient, startTestServer, type TestServer } from '../harness/transcript.js';
import { engines } from '../harness/engines.js';

const OBJECTID = '([A-Za-z0-9_-]{1,255})';

const SIMPLE = 'From: a@example.org\r\nSubject: Hello\r\nMessage-ID: <root@example.org>\r\n\r\nHello.\r\n';
const REPLY = 'From: b@example.org\r\nSubject: Re: Hello\r\nMessage-ID: <reply@example.org>\r\nIn-Reply-To: <root@example.org>\r\nReferences: <root@example.org>\r\n\r\nHi.\r\n';
const OTHER = 'From: c@example.org\r\nSubject: Other\r\nMessage-ID: <other@example.org>\r\n\r\nElse.\r\n';

/** The single line of `reply` that matches `re`, and its first group. */
function only(reply: string[], re: RegExp): string {
  const hits = reply.map((l) => re.exec(l)).filter((m): m is RegExpExecArray => m !== null);
  assert.equal(hits.length, 1, `one line matching ${re} in:\n${reply.join('\n')}`);
  return hits[0]![1]!;
}

function ok(reply: string[], tag: string): string[] {
  assert.match(reply.at(-1)!, new RegExp(`^${tag} OK `), reply.join('\n'));
  return reply;
}

for (const engine of engines) {
  describe(`OBJECTID values (RFC 8474, ${engine})`, () => {
    let server: TestServer;
    let client: LineClient;
    let n = 0;
    const run = async (command: string): Promise<string[]> => {
      const tag = `t${++n}`;
      return ok(await client.command(tag, command), tag);
    };
    const mailboxId = async (name: string): Promise<string> => only(await run(`STATUS "${name}" (MAILBOXID)`), new RegExp(`^\\* STATUS "?[^"]*"? \\(MAILBOXID \\(${OBJECTID}\\)\\)$`));
    const selectId = async (verb: 'SELECT' | 'EXAMINE', name: string): Promise<string> => only(await run(`${verb} "${name}"`), new RegExp(`^\\* OK \\[MAILBOXID \\(${OBJECTID}\\)\\] `));
    const fetchIds = async (set: string): Promise<Array<{ uid: number; emailId: string; threadId: string }>> => {
      const reply = await run(`UID FETCH ${set} (EMAILID THREADID)`);
      return reply.slice(0, -1).map((line) => {
        const m = new RegExp(`^\\* \\d+ FETCH \\(UID (\\d+) EMAILID \\(${OBJECTID}\\) THREADID \\(${OBJECTID}\\)\\)$`).exec(line);
        assert.ok(m, line);
        return { uid: Number(m[1]), emailId: m[2]!, threadId: m[3]! };
      });
    };

    before(async () => {
      server = await startTestServer({ engine });
      for (const raw of [SIMPLE, REPLY, OTHER]) await server.deliver(raw, 'user@example.com');
      client = await LineClient.connect(server.port);
      await client.readLine();
      await run('LOGIN user@example.com pass');
    });
    after(async () => {
      client.send('z LOGOUT');
      await client.waitClosed();
      await server.close();
    });

    test('CREATE, STATUS, SELECT, EXAMINE and LIST-STATUS report one MAILBOXID, which RENAME keeps', async () => {
      const created = only(await run('CREATE Projects'), new RegExp(`^t\\d+ OK \\[MAILBOXID \\(${OBJECTID}\\)\\] `));
      assert.equal(await mailboxId('Projects'), created);
      assert.equal(await selectId('SELECT', 'Projects'), created);
      assert.equal(await selectId('EXAMINE', 'Projects'), created);
      await run('UNSELECT');
      await run('RENAME Projects Archive/Projects');
      assert.equal(await mailboxId('Archive/Projects'), created);
      assert.equal(await selectId('EXAMINE', 'Archive/Projects'), created);
      await run('UNSELECT');
      const listed = only(await run('LIST "" "Archive/Projects" RETURN (STATUS (MAILBOXID))'), new RegExp(`^\\* STATUS .* \\(MAILBOXID \\(${OBJECTID}\\)\\)$`));
      assert.equal(listed, created);
      const again = only(await run('CREATE Projects'), new RegExp(`^t\\d+ OK \\[MAILBOXID \\(${OBJECTID}\\)\\] `));
      assert.notEqual(again, created, 'a new mailbox of the old name has a new MAILBOXID');
      assert.notEqual(await mailboxId('INBOX'), created);
    });

    test('COPY and MOVE keep EMAILID and THREADID (RFC 8474 §5.1); a reply shares the thread of its original', async () => {
      await run('CREATE Kept');
      await run('SELECT INBOX');
      const [root, reply, other] = await fetchIds('1:3');
      assert.equal(reply!.threadId, root!.threadId);
      assert.notEqual(other!.threadId, root!.threadId);
      assert.equal(new Set([root!.emailId, reply!.emailId, other!.emailId]).size, 3);
      assert.ok(![root!.emailId, reply!.emailId, other!.emailId].includes(root!.threadId), 'EMAILID and THREADID spaces do not overlap');

      await run('UID COPY 1 Kept');
      await run('UID MOVE 2 Kept');
      await run('EXAMINE Kept');
      const [copy, moved] = await fetchIds('1:*');
      assert.deepEqual({ emailId: copy!.emailId, threadId: copy!.threadId }, { emailId: root!.emailId, threadId: root!.threadId });
      assert.deepEqual({ emailId: moved!.emailId, threadId: moved!.threadId }, { emailId: reply!.emailId, threadId: reply!.threadId });

      // §6: SEARCH by the ids, in the copy's mailbox and in the original's.
      assert.deepEqual((await run(`UID SEARCH EMAILID ${root!.emailId}`))[0], `* SEARCH ${copy!.uid}`);
      assert.deepEqual((await run(`UID SEARCH THREADID ${root!.threadId}`))[0], `* SEARCH ${copy!.uid} ${moved!.uid}`);
      await run('EXAMINE INBOX');
      assert.deepEqual((await run(`UID SEARCH EMAILID ${root!.emailId}`))[0], '* SEARCH 1');
      assert.deepEqual((await run(`UID SEARCH THREADID ${root!.threadId}`))[0], '* SEARCH 1');
      assert.deepEqual((await run(`UID SEARCH EMAILID ${root!.emailId.toLowerCase() === root!.emailId ? root!.emailId.toUpperCase() : root!.emailId.toLowerCase()}`))[0], '* SEARCH', 'objectids are case-sensitive (RFC 8474 §7)');
      await run('UNSELECT');
    });
  });
}
