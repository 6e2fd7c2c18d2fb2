// CAPABILITY, NOOP, LOGOUT (RFC 9051 §6.1) and ID (RFC 2971): legal in every state.
import type { ImapValue } from '../wire/types.js';
import { defineCommand, states } from '../session/command.js';

export const capability = defineCommand({
  names: ['CAPABILITY'],
  states: states.any,
  async run(session) {
    session.data([{ atom: 'CAPABILITY' }, ...session.capabilities.map((atom) => ({ atom }))]);
  },
});

/** NOOP also reads the journal, so it is the client's way to poll (RFC 9051 §6.1.2). */
export const noop = defineCommand({
  names: ['NOOP'],
  states: states.any,
  async run(session) {
    if (session.view) await session.sendUpdates({ allowExpunge: true, force: true });
  },
});

export const logout = defineCommand({
  names: ['LOGOUT'],
  states: states.any,
  async run(session) {
    session.status('BYE', 'Pigeon IMAP signing off');
    session.state = 'logout';
  },
});

/** Longest ID value echoed into the log. */
const MAX_ID_LOG = 128;

export const id = defineCommand({
  names: ['ID'],
  states: states.any,
  async run(session, command) {
    if (command.params) {
      const fields: Record<string, string | null> = {};
      for (const [k, v] of command.params.slice(0, 30)) fields[k.slice(0, 30)] = v === null ? null : v.slice(0, MAX_ID_LOG);
      session.logger.debug({ session: session.id, client: fields }, 'imap client id');
    }
    const info: ImapValue[] = ['name', 'Pigeon', 'vendor', 'Pigeon', 'support-url', null];
    session.data([{ atom: 'ID' }, info]);
  },
});
