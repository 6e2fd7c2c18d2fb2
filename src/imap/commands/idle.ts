// IDLE (RFC 2177, RFC 9051 §6.3.13): push. Changes committed by anyone reach the client at once
// (the change feed wakes the session, which reads the journal); `* OK Still here` every
// imap.idle_keepalive_seconds keeps mobile NATs open; the line "DONE" ends it.
import { BadCommand } from '../../shared/errors.js';
import { defineCommand, states } from '../session/command.js';

export const idle = defineCommand({
  names: ['IDLE'],
  states: states.authenticated,
  async run(session) {
    session.continuation('idling');
    const line = await session.idle();
    if (line === null) return { noUpdates: true };
    if (line.trim().toUpperCase() !== 'DONE') throw new BadCommand('Expected DONE');
    return { text: 'IDLE terminated' };
  },
});
