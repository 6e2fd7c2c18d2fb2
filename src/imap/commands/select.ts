// SELECT and EXAMINE (RFC 9051 §6.3.2-3, RFC 3501 §6.3.1-2), CLOSE (§6.4.1), UNSELECT (RFC 3691,
// RFC 9051 §6.4.2), CHECK (RFC 3501 §6.4.1; a NOOP in IMAP4rev2's terms).
// A failed SELECT leaves no mailbox selected (RFC 9051 §6.3.2). IMAP4rev2 sessions get the LIST
// reply and no RECENT/UNSEEN; rev1 sessions claim \Recent when read-write.
// CONDSTORE/QRESYNC (RFC 7162): HIGHESTMODSEQ with every SELECT/EXAMINE (§3.1.2.1); the CONDSTORE
// parameter enables CONDSTORE (§3.1.8); the QRESYNC parameter (§3.2.5, only after ENABLE QRESYNC)
// answers VANISHED (EARLIER) from the store's tombstones and FETCH (UID FLAGS MODSEQ) for the
// messages changed since the client's modseq, both read by modseq through indexes; the view itself
// opens from a snapshot of UIDs and counters (store.mailboxSnapshot), so a reconnect to a large
// mailbox reads no record per message. Tombstones live as long as the mailbox, so seq-match-data
// (§3.2.5.2, a hint for servers that forget expunges) is accepted and not needed.
// FLAGS (RFC 9051 §7.3.5) lists the system flags and every keyword defined in the mailbox, also
// one no message carries any more. [CLOSED] on an implicit close
// (RFC 9051 §7.1, RFC 7162 §3.2.11).
import { BadCommand, Refused } from '../../shared/errors.js';
import type { ImapValue } from '../wire/types.js';
import { defineCommand, states } from '../session/command.js';
import { DELIMITER, requireMailbox, SYSTEM_FLAGS } from '../session/helpers.js';
import { MailboxView } from '../session/view.js';
import type { Session } from '../session/session.js';
import { enableCondstore, qresyncOn, uidSetMatcher, vanishedResponse } from '../session/condstore.js';
import type { QresyncParams } from '../wire/types.js';
import { mailboxObjectId } from './status.js';

function leaveSelected(session: Session): void {
  if (session.state !== 'selected') return;
  session.unselect();
  // RFC 9051 §7.1 CLOSED, RFC 7162 §3.2.11 (a server advertising QRESYNC sends it): the responses
  // after it are about the newly selected mailbox.
  session.status('OK', 'Previous mailbox closed', { code: 'CLOSED' });
}

/** RFC 7162 §3.2.5: what changed since the client's modseq, when its UIDVALIDITY still holds. */
async function resync(session: Session, view: MailboxView, params: QresyncParams): Promise<void> {
  if (params.uidValidity !== view.uidValidity) return;
  const journal = await session.store.changesSince(view.mailboxId, params.modseq);
  const known = params.knownUids ? uidSetMatcher(params.knownUids, []) : () => true;
  // A UID still in the view was expunged after its snapshot: the view announces it itself.
  const vanished = vanishedResponse(journal.expunged.filter((uid) => known(uid) && view.seqOf(uid) === 0), { earlier: true });
  if (vanished) session.data(vanished);
  // Messages that arrived after the snapshot are not in the view yet: EXISTS announces them.
  const changed = journal.changed.filter((s) => view.seqOf(s.uid) !== 0);
  view.noteFlags(changed);
  for (const s of changed) {
    session.announceKeywords(s.flags);
    const items = [{ atom: 'UID' }, s.uid, { atom: 'FLAGS' }, session.flagList(s.uid, s.flags), { atom: 'MODSEQ' }, [s.modseq]];
    session.fetchResponse({ seq: view.seqOf(s.uid), uid: s.uid }, items);
    await session.throttle();
  }
}

export const select = defineCommand({
  names: ['SELECT', 'EXAMINE'],
  states: states.authenticated,
  async run(session, command) {
    if (command.qresync && !qresyncOn(session)) throw new BadCommand('QRESYNC parameter without ENABLE QRESYNC');
    if (command.condstore || command.qresync) enableCondstore(session);
    leaveSelected(session);
    const mailbox = await requireMailbox(session, command.mailbox);
    const readOnly = command.name === 'EXAMINE';
    const snapshot = await session.store.mailboxSnapshot(mailbox.id);
    if (!snapshot) throw new Refused('No such mailbox', 'NONEXISTENT');
    const view = await MailboxView.open(session.store, snapshot, { readOnly, trackRecent: !readOnly && !session.rev2 });
    const firstUnseen = snapshot.firstUnseenUid ? view.seqOf(snapshot.firstUnseenUid) : 0;
    const flags: ImapValue[] = [...SYSTEM_FLAGS, ...view.keywords].map((atom) => ({ atom }));
    session.data([{ atom: 'FLAGS' }, flags]);
    session.status('OK', readOnly ? 'No permanent flags permitted' : 'Flags permitted', {
      code: 'PERMANENTFLAGS',
      args: [readOnly ? [] : [...flags, { atom: '\\*' }]],
    });
    session.data([view.exists, { atom: 'EXISTS' }]);
    if (!session.rev2) {
      session.data([view.recentCount, { atom: 'RECENT' }]);
      // RFC 9586 §3: no message sequence number in responses once UIDONLY is enabled.
      if (firstUnseen && !session.uidOnly) session.status('OK', `Message ${firstUnseen} is first unseen`, { code: 'UNSEEN', args: [firstUnseen] });
    }
    session.status('OK', 'UIDs valid', { code: 'UIDVALIDITY', args: [view.uidValidity] });
    session.status('OK', 'Predicted next UID', { code: 'UIDNEXT', args: [snapshot.mailbox.uidNext] });
    session.status('OK', 'Highest', { code: 'HIGHESTMODSEQ', args: [view.modseq] });
    session.status('OK', 'Ok', { code: 'MAILBOXID', args: [[{ atom: mailboxObjectId(mailbox) }]] }); // RFC 8474 §4.2
    if (session.rev2) session.data([{ atom: 'LIST' }, [], DELIMITER, { mailbox: mailbox.name }]);
    session.select(view);
    if (command.qresync) await resync(session, view, command.qresync);
    return { code: { code: readOnly ? 'READ-ONLY' : 'READ-WRITE' }, text: `${command.name} completed` };
  },
});

export const close = defineCommand({
  names: ['CLOSE'],
  states: states.selected,
  async run(session) {
    const view = session.selected;
    if (!view.readOnly) {
      // RFC 9051 §6.4.1: \Deleted messages are removed silently.
      const states = await session.store.listMessageStates(view.mailboxId);
      const deleted = states.filter((s) => s.flags.includes('\\Deleted')).map((s) => s.uid);
      if (deleted.length) await session.store.expunge(view.mailboxId, deleted);
    }
    session.unselect();
    return { noUpdates: true };
  },
});

export const unselect = defineCommand({
  names: ['UNSELECT'],
  states: states.selected,
  async run(session) {
    session.unselect();
    return { noUpdates: true };
  },
});

export const check = defineCommand({
  names: ['CHECK'],
  states: states.selected,
  async run(session) {
    if (!session.view) throw new Refused('No mailbox selected');
    await session.sendUpdates({ allowExpunge: true, force: true });
  },
});
