// STATUS (RFC 9051 §6.3.11): MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, DELETED, SIZE (RFC 8438),
// RECENT (IMAP4rev1), APPENDLIMIT (RFC 7889), HIGHESTMODSEQ (RFC 7162). Also used by LIST-STATUS
// (RFC 5819). MAILBOXID (RFC 8474 §4.2).
import type { Mailbox } from '../../store/store.js';
import type { ImapValue, StatusItem } from '../wire/types.js';
import { defineCommand, states } from '../session/command.js';
import { requireMailbox } from '../session/helpers.js';
import type { Session } from '../session/session.js';

/**
 * RFC 8474 §4 MAILBOXID: the store's mailbox id (kept by RENAME; renaming INBOX makes a new
 * mailbox, so a new id) with its UIDVALIDITY, so an id the database reuses never repeats an
 * objectid. Syntax objectid = 1*255(ALPHA / DIGIT / "_" / "-").
 */
export function mailboxObjectId(mailbox: Pick<Mailbox, 'id' | 'uidValidity'>): string {
  return `M${mailbox.id}-${mailbox.uidValidity}`;
}

export async function statusValues(session: Session, mailbox: Mailbox, items: readonly StatusItem[]): Promise<ImapValue[]> {
  const out: ImapValue[] = [];
  let deleted: number | undefined;
  for (const item of items) {
    let value: number;
    switch (item) {
      case 'MESSAGES':
        value = mailbox.messageCount;
        break;
      case 'UIDNEXT':
        value = mailbox.uidNext;
        break;
      case 'UIDVALIDITY':
        value = mailbox.uidValidity;
        break;
      case 'UNSEEN':
        value = mailbox.unseenCount;
        break;
      case 'SIZE':
        value = mailbox.totalSize;
        break;
      case 'DELETED':
        deleted ??= (await session.store.listMessageStates(mailbox.id)).filter((s) => s.flags.includes('\\Deleted')).length;
        value = deleted;
        break;
      case 'RECENT':
        value = session.view?.mailboxId === mailbox.id && !session.rev2 ? session.view.recentCount : 0;
        break;
      case 'HIGHESTMODSEQ':
        // RFC 7162 §3.1.2: STATUS HIGHESTMODSEQ is a CONDSTORE-enabling command.
        session.enabled.add('CONDSTORE');
        value = mailbox.highestModseq;
        break;
      case 'APPENDLIMIT':
        value = session.config.limits.max_message_size;
        break;
      case 'MAILBOXID':
        out.push({ atom: item }, [{ atom: mailboxObjectId(mailbox) }]);
        continue;
    }
    out.push({ atom: item }, value);
  }
  return out;
}

export const status = defineCommand({
  names: ['STATUS'],
  states: states.authenticated,
  async run(session, command) {
    const mailbox = await requireMailbox(session, command.mailbox);
    session.data([{ atom: 'STATUS' }, { mailbox: mailbox.name }, await statusValues(session, mailbox, command.items)]);
  },
});
