// Command dispatch: the one place where a command's legality in the session state is checked,
// where errors become responses, and where unsolicited updates are written before the tagged
// completion (STYLE.md "A command handler").
//
// Error mapping: BadCommand → BAD; Refused → NO [code]; anything else → NO [SERVERBUG] with the
// stack logged and no internals shown. EXPUNGE responses are withheld after FETCH, STORE, SEARCH
// (and COPY/MOVE, SORT, THREAD) by sequence number, where numbers must not shift under the client
// (RFC 9051 §7.5.1, RFC 3501 §7.4.1); their UID forms allow them.
import { BadCommand, Refused, errorMessage } from '../../shared/errors.js';
import type { Command, CommandName } from '../wire/types.js';
import type { Session } from './session.js';
import type { CommandHandler, Completion } from './command.js';
import { handlers } from '../commands/registry.js';
import { RefusedWithArgs } from './errors.js';
import { sequenceNumberUse } from './uidonly.js';

const NO_EXPUNGE_BY_SEQUENCE = new Set<CommandName>(['FETCH', 'STORE', 'SEARCH', 'COPY', 'MOVE', 'SORT', 'THREAD']);

function mayExpunge(command: Command): boolean {
  if (!NO_EXPUNGE_BY_SEQUENCE.has(command.name)) return true;
  return 'uid' in command && command.uid === true;
}

export async function dispatch(session: Session, command: Command): Promise<void> {
  const handler = handlers.get(command.name);
  const tag = command.tag;
  if (!handler) {
    session.tagged(tag, 'BAD', `${command.name} is not supported`);
    session.countBad();
    return;
  }
  if (!handler.states.includes(session.state)) {
    const why =
      session.state === 'not-authenticated'
        ? 'Log in first'
        : handler.states.every((s) => s === 'not-authenticated')
          ? 'Already authenticated'
          : handler.states.includes('selected') && !handler.states.includes('authenticated')
            ? 'Select a mailbox first'
            : 'Not allowed now';
    session.tagged(tag, 'BAD', `${command.name}: ${why}`);
    session.countBad();
    return;
  }
  // RFC 9586 §3: once UIDONLY is enabled, a command using message sequence numbers is BAD.
  const sequenceUse = session.uidOnly ? sequenceNumberUse(command) : null;
  if (sequenceUse) {
    session.tagged(tag, 'BAD', sequenceUse, { code: 'UIDREQUIRED' });
    session.countBad();
    return;
  }
  session.logger.debug({ session: session.id, command: command.name }, 'imap command');
  let completion: Completion | void;
  try {
    completion = await (handler as CommandHandler).run(session, command);
  } catch (err) {
    await flushQuietly(session, command);
    if (err instanceof BadCommand) {
      session.tagged(tag, 'BAD', err.message);
      session.countBad();
    } else if (err instanceof Refused) {
      const args = err instanceof RefusedWithArgs ? err.args : undefined;
      session.tagged(tag, 'NO', err.message, err.code ? { code: err.code, ...(args ? { args } : {}) } : undefined);
    } else {
      session.logger.error({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined, command: command.name, session: session.id }, 'imap command failed');
      session.tagged(tag, 'NO', 'Internal server error; the problem is logged', { code: 'SERVERBUG' });
    }
    return;
  }
  if (session.closed) return;
  if (!completion?.noUpdates && session.state !== 'logout') await flushQuietly(session, command);
  session.tagged(tag, 'OK', completion?.text ?? `${command.name} completed`, completion?.code);
  if (session.state === 'logout') session.close();
  else if (completion?.after) await completion.after();
}

async function flushQuietly(session: Session, command: Command): Promise<void> {
  try {
    await session.sendUpdates({ allowExpunge: mayExpunge(command) });
  } catch (err) {
    session.logger.error({ err: errorMessage(err), session: session.id }, 'imap update failed');
  }
}
