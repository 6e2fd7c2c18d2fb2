// CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE (RFC 9051 §6.3.4-8, RFC 3501 §6.3.3-7).
// Hierarchy: CREATE and RENAME create missing superior names; DELETE of a name with inferiors
// removes that mailbox only, its children stay (the name then lists as \NonExistent / \Noselect,
// RFC 9051 §6.3.5). INBOX cannot be deleted; renaming INBOX moves its messages (§6.3.6).
// CREATE-SPECIAL-USE (RFC 6154 §3): CREATE name (USE (\Sent)) gives the new mailbox that use.
// OBJECTID (RFC 8474 §4.1): CREATE's tagged OK carries [MAILBOXID (id)]; RENAME keeps the id
// (the store keeps the mailbox row), renaming INBOX makes a new mailbox and so a new id.
import { Refused } from '../../shared/errors.js';
import type { SpecialUse } from '../../store/store.js';
import { defineCommand, states } from '../session/command.js';
import { checkNewName, createParents, DELIMITER, findMailbox, normaliseName, requireMailbox } from '../session/helpers.js';
import { mailboxObjectId } from './status.js';

const SPECIAL_USES = new Set(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged', '\\Important']);

export const create = defineCommand({
  names: ['CREATE'],
  states: states.authenticated,
  async run(session, command) {
    const name = normaliseName(command.mailbox);
    if (name === 'INBOX') throw new Refused('INBOX always exists', 'ALREADYEXISTS');
    checkNewName(name);
    let specialUse: SpecialUse | null = null;
    for (const use of command.specialUse ?? []) {
      const canonical = [...SPECIAL_USES].find((s) => s.toLowerCase() === use.toLowerCase());
      // RFC 6154 §3: NO [USEATTR] for a special use the server cannot give.
      if (!canonical) throw new Refused(`Unsupported special use ${use}`, 'USEATTR');
      if (specialUse) throw new Refused('Only one special use per mailbox', 'USEATTR');
      specialUse = canonical as SpecialUse;
    }
    const accountId = session.account!.id;
    if (await session.store.getMailbox(accountId, name)) throw new Refused('Mailbox already exists', 'ALREADYEXISTS');
    await createParents(session.store, accountId, name);
    const created = await session.store.createMailbox(accountId, name, { specialUse, subscribed: false });
    return { code: { code: 'MAILBOXID', args: [[{ atom: mailboxObjectId(created) }]] } };
  },
});

export const remove = defineCommand({
  names: ['DELETE'],
  states: states.authenticated,
  async run(session, command) {
    const name = normaliseName(command.mailbox);
    if (name === 'INBOX') throw new Refused('INBOX cannot be deleted', 'CANNOT');
    const mailbox = await requireMailbox(session, name);
    if (session.view?.mailboxId === mailbox.id) session.unselect();
    await session.store.deleteMailbox(mailbox.id);
  },
});

export const rename = defineCommand({
  names: ['RENAME'],
  states: states.authenticated,
  async run(session, command) {
    const from = normaliseName(command.from);
    const to = normaliseName(command.to);
    const source = await requireMailbox(session, from);
    if (to === 'INBOX') throw new Refused('INBOX already exists', 'ALREADYEXISTS');
    checkNewName(to);
    if (to === source.name || to.startsWith(source.name + DELIMITER)) throw new Refused('Cannot rename a mailbox into itself', 'CANNOT');
    if (await findMailbox(session, to)) throw new Refused('Target mailbox already exists', 'ALREADYEXISTS');
    await createParents(session.store, session.account!.id, to);
    await session.store.renameMailbox(source.id, to);
    if (session.view?.mailboxId === source.id && source.name !== 'INBOX') session.view.name = to;
  },
});

export const subscribe = defineCommand({
  names: ['SUBSCRIBE', 'UNSUBSCRIBE'],
  states: states.authenticated,
  async run(session, command) {
    const name = normaliseName(command.mailbox);
    if (command.name === 'SUBSCRIBE') {
      await requireMailbox(session, name);
      await session.store.setSubscribed(session.account!.id, name, true);
    } else {
      await session.store.setSubscribed(session.account!.id, name, false);
    }
  },
});
