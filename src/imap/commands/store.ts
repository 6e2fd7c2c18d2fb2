// STORE and UID STORE (RFC 9051 §6.4.6): add, remove or replace flags, .SILENT. The new flags are
// announced for every message in the set unless .SILENT; the view notes them so they are not
// announced again as another session's change. \Recent cannot be set (RFC 9051 §2.3.2).
// CONDSTORE (RFC 7162 §3.1.3): UNCHANGEDSINCE enables CONDSTORE and changes only messages whose
// modseq is ≤ it (checked inside the store's transaction); the others are listed in the tagged
// OK's [MODIFIED set] (UIDs for UID STORE, sequence numbers otherwise). With CONDSTORE on, each
// FETCH response carries MODSEQ, and with UNCHANGEDSINCE a FETCH (MODSEQ) is sent for every
// updated message even with .SILENT (§3.1.3). Once UIDONLY is enabled they are UIDFETCH responses
// (RFC 9586 §3.3, session.fetchResponse).
import { Refused } from '../../shared/errors.js';
import type { ImapValue } from '../wire/types.js';
import { defineCommand, states } from '../session/command.js';
import { compactUidSet, resolveSet, settableFlags } from '../session/helpers.js';
import { condstoreOn, enableCondstore } from '../session/condstore.js';

export const store = defineCommand({
  names: ['STORE'],
  states: states.selected,
  async run(session, command) {
    const view = session.selected;
    if (view.readOnly) throw new Refused('The mailbox is read-only', 'CANNOT');
    const conditional = command.unchangedSince !== undefined;
    if (conditional) enableCondstore(session);
    const condstore = condstoreOn(session);
    const messages = resolveSet(session, command.set, command.uid);
    if (messages.length === 0) return;
    const result = await session.store.storeFlags(
      view.mailboxId,
      messages.map((m) => m.uid),
      { mode: command.operation, flags: settableFlags(command.flags), ...(conditional ? { unchangedSince: command.unchangedSince } : {}) },
    );
    view.noteFlags(result.updated);
    const updated = new Map(result.updated.map((s) => [s.uid, s]));
    const modified = new Set(result.modified);
    // Messages whose flags did not change are reported with their flags as stored now (the view
    // keeps no flags for messages it has not announced).
    const unchanged = command.silent ? [] : messages.filter((m) => !updated.has(m.uid) && !modified.has(m.uid) && !view.isExpunged(m.uid)).map((m) => m.uid);
    if (unchanged.length) {
      const current = await session.store.getMessageMeta(view.mailboxId, unchanged);
      view.noteFlags(current);
      for (const st of current) updated.set(st.uid, { uid: st.uid, flags: st.flags, modseq: st.modseq });
    }
    for (const st of updated.values()) session.announceKeywords(st.flags);
    if (!command.silent || conditional) {
      for (const m of messages) {
        if (modified.has(m.uid) || view.isExpunged(m.uid)) continue;
        const state = updated.get(m.uid);
        if (!state) continue; // unchanged with .SILENT, or expunged meanwhile (RFC 2180 §4.1)
        const items: ImapValue[] = [];
        if (!command.silent) items.push({ atom: 'FLAGS' }, session.flagList(m.uid, state.flags));
        if (command.uid) items.push({ atom: 'UID' }, m.uid);
        if (condstore) items.push({ atom: 'MODSEQ' }, [state.modseq]);
        session.fetchResponse(m, items);
        await session.throttle();
      }
    }
    if (result.modified.length) {
      const ids = command.uid ? result.modified : result.modified.map((uid) => view.seqOf(uid));
      return { code: { code: 'MODIFIED', args: [{ atom: compactUidSet(ids.sort((a, b) => a - b)) }] }, text: 'Conditional STORE failed for some messages' };
    }
  },
});
