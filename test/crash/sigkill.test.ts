// Crash safety (ARCHITECTURE "Durability"): 20 clients deliver over SMTP and APPEND over IMAP to
// a `pigeon serve` child process, which is killed with SIGKILL mid-flight. After a restart on the
// same data folder: every message that got 250 / OK is there exactly once (each carries a unique
// X-Crash-Tag), APPENDUIDs are unchanged, no UID is reused (UIDNEXT beyond every UID ever
// returned, a new APPEND gets a higher UID), HIGHESTMODSEQ only grew, and `pigeon check` finds
// the store sound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LineClient } from '../hostile/line-client.js';
import { addUser, runCli, serverEnv, startChild, tempDir, type ChildServer } from './child-server.js';

const USER = 'crash@crash.test';
const PASS = 'crash password';
const CLIENTS = 20;
/** Kill once this many messages were acknowledged (or at the time bound). */
const ACKS_BEFORE_KILL = 120;
const debug = (what: string) => process.env['DEBUG_CRASH'] && process.stderr.write(`${new Date().toISOString()} ${what}\n`);

interface Ledger {
  acked: Map<string, { via: 'smtp' | 'imap'; uid?: number }>;
  /** Tags sent whose answer never came (may or may not be stored, at most once). */
  inFlight: Set<string>;
  maxUid: number;
  maxModseq: bigint;
  uidValidity: number;
  /** Called after each acknowledgement. */
  onAck: () => void;
}

function message(tag: string): string {
  return [`From: sender@elsewhere.test`, `To: ${USER}`, `Subject: crash ${tag}`, `Message-ID: <${tag}@crash.test>`, `X-Crash-Tag: ${tag}`, '', `body of ${tag}`, 'x'.repeat(500), ''].join('\r\n');
}

async function smtpClient(port: number, id: number, ledger: Ledger, stop: () => boolean): Promise<void> {
  const c = await LineClient.connect(port).catch(() => null);
  if (!c) return;
  try {
    await c.smtp(null);
    await c.smtp(`EHLO client${id}.test`);
    for (let n = 0; !stop(); n++) {
      const tag = `s${id}-${n}`;
      if (!(await c.smtp('MAIL FROM:<sender@elsewhere.test>')).startsWith('250')) return;
      if (!(await c.smtp(`RCPT TO:<${USER}>`)).startsWith('250')) return;
      if (!(await c.smtp('DATA')).startsWith('354')) return;
      ledger.inFlight.add(tag);
      const reply = await c.smtp(`${message(tag)}.`);
      if (reply.startsWith('250')) {
        ledger.inFlight.delete(tag);
        ledger.acked.set(tag, { via: 'smtp' });
        ledger.onAck();
      }
    }
  } catch {
    // The server was killed: whatever had no answer stays in flight.
  } finally {
    c.close();
  }
}

async function imapClient(port: number, id: number, ledger: Ledger, stop: () => boolean): Promise<void> {
  const c = await LineClient.connect(port).catch(() => null);
  if (!c) return;
  try {
    await c.next();
    const login = await c.imap('l', `LOGIN "${USER}" "${PASS}"`);
    assert.match(login.done, /^l OK/);
    for (let n = 0; !stop(); n++) {
      const tag = `i${id}-${n}`;
      const body = Buffer.from(message(tag));
      ledger.inFlight.add(tag);
      c.write(`a${n} APPEND INBOX (\\Seen) {${body.length}}\r\n`);
      const cont = await c.next();
      if (!cont.startsWith('+')) return;
      c.write(Buffer.concat([body, Buffer.from('\r\n')]));
      const done = await c.until((l) => l.startsWith(`a${n} `));
      const m = /^a\d+ OK \[APPENDUID (\d+) (\d+)\]/.exec(done);
      if (!m) return;
      const uid = Number(m[2]);
      ledger.inFlight.delete(tag);
      ledger.acked.set(tag, { via: 'imap', uid });
      ledger.uidValidity = Number(m[1]);
      ledger.maxUid = Math.max(ledger.maxUid, uid);
      ledger.onAck();
    }
  } catch (err) {
    debug(`imap ${id}: ${String(err)}`);
  } finally {
    c.close();
  }
}

/** A watcher that keeps asking STATUS, recording the highest HIGHESTMODSEQ and UIDNEXT seen. */
async function watcher(port: number, ledger: Ledger, stop: () => boolean): Promise<void> {
  const c = await LineClient.connect(port).catch(() => null);
  if (!c) return;
  try {
    await c.next();
    await c.imap('l', `LOGIN "${USER}" "${PASS}"`);
    for (let n = 0; !stop(); n++) {
      const r = await c.imap(`w${n}`, 'STATUS INBOX (UIDNEXT HIGHESTMODSEQ)');
      for (const l of r.lines) {
        const ms = /HIGHESTMODSEQ (\d+)/.exec(l);
        if (ms) ledger.maxModseq = BigInt(ms[1]!) > ledger.maxModseq ? BigInt(ms[1]!) : ledger.maxModseq;
        const un = /UIDNEXT (\d+)/.exec(l);
        if (un) ledger.maxUid = Math.max(ledger.maxUid, Number(un[1]) - 1);
      }
    }
  } catch {
    // killed
  } finally {
    c.close();
  }
}

async function inspect(server: ChildServer): Promise<{ tags: Map<string, number[]>; uidNext: number; modseq: bigint; uidValidity: number; client: LineClient }> {
  const c = await LineClient.connect(server.ports['imap']!, { timeoutMs: 30_000 });
  await c.next();
  assert.match((await c.imap('l', `LOGIN "${USER}" "${PASS}"`)).done, /^l OK/);
  const sel = await c.imap('s', 'SELECT INBOX');
  assert.match(sel.done, /^s OK/);
  const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(sel.lines.join('\n'))?.[1]);
  const uidNext = Number(/UIDNEXT (\d+)/.exec(sel.lines.join('\n'))?.[1]);
  const st = await c.imap('m', 'STATUS INBOX (HIGHESTMODSEQ)');
  const modseq = BigInt(/HIGHESTMODSEQ (\d+)/.exec(st.lines.join('\n'))?.[1] ?? '0');
  const f = await c.imap('f', 'UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (X-Crash-Tag)])');
  assert.match(f.done, /^f OK/);
  const tags = new Map<string, number[]>();
  let uid = 0;
  for (const l of f.lines) {
    const u = /^\* \d+ FETCH .*UID (\d+)/.exec(l);
    if (u) uid = Number(u[1]);
    const t = /^X-Crash-Tag: (\S+)/i.exec(l);
    if (t) tags.set(t[1]!, [...(tags.get(t[1]!) ?? []), uid]);
  }
  return { tags, uidNext, modseq, uidValidity, client: c };
}

test('after SIGKILL during 20 clients of SMTP and APPEND, every acknowledged message is there once, no UID is reused, HIGHESTMODSEQ grew, the store checks sound', { timeout: 120_000 }, async () => {
  const dir = tempDir();
  const env = serverEnv(join(dir, 'data'));
  await addUser(env, USER, PASS);
  const first = await startChild(env);
  let enough: () => void = () => {};
  const underWay = new Promise<void>((resolve) => {
    enough = resolve;
  });
  const ledger: Ledger = { acked: new Map(), inFlight: new Set(), maxUid: 0, maxModseq: 0n, uidValidity: 0, onAck: () => ledger.acked.size >= ACKS_BEFORE_KILL && enough() };
  let stopping = false;
  const stop = () => stopping;
  const clients: Promise<void>[] = [];
  for (let i = 0; i < CLIENTS; i++) clients.push(i % 2 === 0 ? smtpClient(first.ports['smtp']!, i, ledger, stop) : imapClient(first.ports['imap']!, i, ledger, stop));
  clients.push(watcher(first.ports['imap']!, ledger, stop));
  // Wait (on acknowledgements, bounded) until the traffic is well under way, then kill mid-flight.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([underWay, new Promise<void>((r) => (timer = setTimeout(r, 30_000)))]);
  clearTimeout(timer);
  assert.ok(ledger.acked.size > 0, `no message was acknowledged before the kill: ${first.output()}`);
  debug(`SIGKILL after ${ledger.acked.size} acknowledgements`);
  first.proc.kill('SIGKILL');
  assert.equal(await first.exited, 'SIGKILL');
  stopping = true;
  debug('killed');
  await Promise.all(clients);
  const modseqBefore = ledger.maxModseq;

  debug('restarting');
  const second = await startChild(env);
  try {
  debug('restarted');
    const seen = await inspect(second);
    // Every acknowledged message exactly once; APPENDUIDs unchanged.
    const missing: string[] = [];
    for (const [tag, ack] of ledger.acked) {
      const uids = seen.tags.get(tag);
      if (!uids) missing.push(tag);
      else {
        assert.equal(uids.length, 1, `${tag} is stored ${uids.length} times`);
        if (ack.uid !== undefined) assert.equal(uids[0], ack.uid, `${tag}: APPENDUID ${ack.uid} but now UID ${uids[0]}`);
      }
    }
    assert.deepEqual(missing, [], `${missing.length} acknowledged messages lost (of ${ledger.acked.size})`);
    // Messages never acknowledged may be there, but at most once; nothing unknown appears.
    for (const [tag, uids] of seen.tags) {
      assert.ok(ledger.acked.has(tag) || ledger.inFlight.has(tag), `unknown message ${tag}`);
      assert.equal(uids.length, 1, `${tag} duplicated`);
    }
    if (ledger.uidValidity) assert.equal(seen.uidValidity, ledger.uidValidity, 'UIDVALIDITY changed across the crash');
    const allUids = [...seen.tags.values()].flat();
    assert.equal(new Set(allUids).size, allUids.length, 'two messages share a UID');
    assert.ok(seen.uidNext > Math.max(ledger.maxUid, ...allUids), `UIDNEXT ${seen.uidNext} not beyond every UID returned (${ledger.maxUid})`);
    assert.ok(seen.modseq >= modseqBefore, `HIGHESTMODSEQ went back from ${modseqBefore} to ${seen.modseq}`);
    // A new APPEND after the restart takes a fresh UID and a higher modseq.
    const body = Buffer.from(message('after-restart'));
    seen.client.write(`n APPEND INBOX {${body.length}+}\r\n`);
    seen.client.write(Buffer.concat([body, Buffer.from('\r\n')]));
    const done = await seen.client.until((l) => l.startsWith('n '));
    const m = /APPENDUID \d+ (\d+)/.exec(done);
    assert.ok(m, done);
    assert.ok(Number(m[1]) >= seen.uidNext && Number(m[1]) > ledger.maxUid, `new UID ${m[1]} reuses an old one`);
    const st = await seen.client.imap('st', 'STATUS INBOX (HIGHESTMODSEQ)');
    assert.ok(BigInt(/HIGHESTMODSEQ (\d+)/.exec(st.lines.join(' '))![1]!) > seen.modseq, 'HIGHESTMODSEQ did not grow with the new APPEND');
    seen.client.close();
  } finally {
    // Killed again: the check below must find the store sound after a second crash too.
    second.proc.kill('SIGKILL');
    await second.exited;
  }
  debug('pigeon check');
  const check = runCli(['check'], env);
  assert.equal(check.status, 0, `pigeon check: ${check.stdout}${check.stderr}`);
});
