// FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9; RFC 3501 §6.4.5). Items are rendered by
// fetch/fetch.ts from the stored index; raw bytes are read only when an item needs them, and only
// the prefix it needs (a headers-only sync reads header bytes only).
// \Seen is set by a non-PEEK BODY[]/BINARY[], RFC822 or RFC822.TEXT in a read-write mailbox, and
// the new FLAGS are then included in the response (RFC 9051 §6.4.5).
// CONDSTORE (RFC 7162 §3.1.4): the MODSEQ item and CHANGEDSINCE enable CONDSTORE; CHANGEDSINCE
// keeps the messages whose modseq is above it (read from the store's journal, by index, so the
// set is never scanned record by record) and implies MODSEQ. QRESYNC (§3.2.6): UID FETCH …
// (CHANGEDSINCE n VANISHED) first reports `VANISHED (EARLIER)` for UIDs of the set expunged
// after n.
// PARTIAL (RFC 9394 §3.3): only the window of the messages the set names (in ascending order; a
// negative window counts from the last); CHANGEDSINCE then filters that window (§3.4).
// UIDONLY (RFC 9586 §3.3): responses are `* uid UIDFETCH (…)`, with the UID item only when asked.
import { BadCommand } from '../../shared/errors.js';
import type { MessageRecord } from '../../store/store.js';
import type { FetchAttribute, ImapValue } from '../wire/types.js';
import { needsIndex, needsRaw, rawRange, renderFetchItem } from '../fetch/fetch.js';
import { defineCommand, states } from '../session/command.js';
import { resolveSet } from '../session/helpers.js';
import { partialSlice } from '../search/esearch.js';
import { condstoreOn, enableCondstore, qresyncOn, uidSetMatcher, vanishedResponse } from '../session/condstore.js';

/** Messages loaded from the store per round trip. */
const BATCH = 200;

function setsSeen(a: FetchAttribute): boolean {
  return ((a.kind === 'BODY[]' || a.kind === 'BINARY') && !a.peek) || a.kind === 'RFC822' || a.kind === 'RFC822.TEXT';
}

export const fetch = defineCommand({
  names: ['FETCH'],
  states: states.selected,
  async run(session, command) {
    const view = session.selected;
    if (command.vanished && !qresyncOn(session)) throw new BadCommand('VANISHED requires ENABLE QRESYNC');
    let messages = resolveSet(session, command.set, command.uid);
    if (command.partial) messages = partialSlice(messages, command.partial);
    const attrs: FetchAttribute[] = [...command.attributes];
    const uidRequested = attrs.some((a) => a.kind === 'UID');
    if (command.uid && !uidRequested && !session.uidOnly) attrs.unshift({ kind: 'UID' });
    const since = command.changedSince;
    if (since !== undefined && !attrs.some((a) => a.kind === 'MODSEQ')) attrs.push({ kind: 'MODSEQ' });
    if (attrs.some((a) => a.kind === 'MODSEQ')) enableCondstore(session);
    const condstore = condstoreOn(session);
    if (since !== undefined) {
      const journal = await session.store.changesSince(view.mailboxId, since);
      if (command.vanished) {
        const inSet = uidSetMatcher(command.set, session.savedSearch);
        const vanished = vanishedResponse(journal.expunged.filter(inSet), { earlier: true });
        if (vanished) session.data(vanished);
      }
      const changed = new Set(journal.changed.map((c) => c.uid));
      messages = messages.filter((m) => changed.has(m.uid));
    }
    const markSeen = !view.readOnly && attrs.some(setsSeen);
    const hasFlags = attrs.some((a) => a.kind === 'FLAGS');
    const raw = needsRaw(attrs);
    const index = needsIndex(attrs);
    const store = session.store;
    const options = { utf8: session.utf8 };
    for (let i = 0; i < messages.length; i += BATCH) {
      const batch = messages.slice(i, i + BATCH);
      const records = await store.getMessages(view.mailboxId, batch.map((m) => m.uid), { index });
      const byUid = new Map<number, MessageRecord>(records.map((r) => [r.uid, r]));
      const flagged = new Set<number>();
      if (markSeen) {
        const unseen = records.filter((r) => !r.flags.includes('\\Seen')).map((r) => r.uid);
        if (unseen.length) {
          const result = await store.storeFlags(view.mailboxId, unseen, { mode: 'add', flags: ['\\Seen'] });
          for (const s of result.updated) {
            const r = byUid.get(s.uid);
            if (r) byUid.set(s.uid, { ...r, flags: s.flags, modseq: s.modseq });
            flagged.add(s.uid);
          }
        }
      }
      if (hasFlags || flagged.size) view.noteFlags([...byUid.values()]);
      for (const m of batch) {
        const record = byUid.get(m.uid);
        if (!record) continue; // expunged meanwhile (RFC 2180 §4.1.2: omit it)
        let bytes: Buffer | undefined;
        if (raw) {
          const range = rawRange(attrs, record.index);
          bytes = await store.readBlob(record.blobHash, range.end < record.size ? range : undefined);
        }
        const msg = { record, seq: m.seq, recentFlag: !session.rev2 && view.isRecent(m.uid), ...(bytes ? { raw: bytes } : {}) };
        if (hasFlags || flagged.has(m.uid)) session.announceKeywords(record.flags);
        const values: ImapValue[] = [];
        for (const a of attrs) {
          const item = renderFetchItem(a, msg, options);
          values.push(item.name, item.value);
        }
        if (flagged.has(m.uid) && !hasFlags) values.push({ atom: 'FLAGS' }, session.flagList(m.uid, record.flags));
        // RFC 7162 §3.1: flags changed by this FETCH are reported with their MODSEQ.
        if (flagged.has(m.uid) && condstore && !attrs.some((a) => a.kind === 'MODSEQ')) values.push({ atom: 'MODSEQ' }, [record.modseq]);
        session.fetchResponse(m, values, { uidRequested });
        await session.throttle();
      }
    }
  },
});
