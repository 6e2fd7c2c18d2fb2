// NOTIFY (RFC 5465 §3): NOTIFY NONE stops notifications; NOTIFY SET [STATUS] event-groups
// replaces the session's set (session/notify.ts validates it; session.ts delivers the events).
// With STATUS, a STATUS response (MESSAGES, UIDNEXT, UIDVALIDITY) is sent at once for every
// mailbox the message events cover, except the selected one (RFC 5465 §3).
import { defineCommand, states } from '../session/command.js';
import { NotifySpec } from '../session/notify.js';

export const notify = defineCommand({
  names: ['NOTIFY'],
  states: states.authenticated,
  async run(session, command) {
    if (command.action.kind === 'none') {
      await session.setNotify(null);
      return { text: 'NOTIFY completed' };
    }
    const spec = NotifySpec.fromCommand(command.action);
    await session.setNotify(spec);
    if (spec.status) {
      for (const { id } of session.notifyWatched()) {
        const mailbox = await session.store.getMailboxById(id);
        if (!mailbox) continue;
        session.data([{ atom: 'STATUS' }, { mailbox: mailbox.name }, session.notifyStatusValues(mailbox, { uidValidity: true })]);
        await session.throttle();
      }
    }
    return { text: 'NOTIFY completed' };
  },
});
