// APPEND (RFC 9051 §6.3.12) with UIDPLUS APPENDUID (RFC 4315 §3) and APPENDLIMIT (RFC 7889).
// A missing mailbox answers NO [TRYCREATE]; a message over limits.max_message_size NO [TOOBIG]
// (the parser already refuses a larger literal before reading it). Durable before OK: the store
// resolves only after commit. CATENATE (RFC 4469) parts are resolved by catenate.ts first.
//
// MULTIAPPEND (RFC 3502 §6.3.11): several messages in one command, all or nothing. Every message
// is checked before the first is stored; if storing one fails (OVERQUOTA, a store error), the ones
// already stored are removed by a compensating expunge before the NO, so the client sees none of
// them (they leave expunge tombstones, which QRESYNC clients read as VANISHED: harmless). The
// APPENDUID then names every UID (RFC 4315 §3 uid-set).
import { Refused } from '../../shared/errors.js';
import { indexMessage } from '../../mail/parse.js';
import { defineCommand, states } from '../session/command.js';
import { compactUidSet, requireMailbox, settableFlags } from '../session/helpers.js';
import { catenate } from './catenate.js';

export const append = defineCommand({
  names: ['APPEND'],
  states: states.authenticated,
  async run(session, command) {
    const mailbox = await requireMailbox(session, command.mailbox, 'TRYCREATE');
    const limit = session.config.limits.max_message_size;
    const raws: Buffer[] = [];
    for (const m of command.messages) {
      const raw = m.content.kind === 'literal' ? m.content.data : await catenate(session, m.content.parts, limit);
      if (raw.length > limit) throw new Refused(`Message larger than ${limit} bytes`, 'TOOBIG');
      if (raw.length === 0) throw new Refused('Empty message', 'CANNOT');
      raws.push(raw);
    }
    const uids: number[] = [];
    let uidValidity = mailbox.uidValidity;
    try {
      for (const [i, m] of command.messages.entries()) {
        const raw = raws[i]!;
        const result = await session.store.appendMessage(mailbox.id, {
          raw,
          index: indexMessage(raw),
          flags: settableFlags(m.flags),
          ...(m.internalDate ? { internalDate: m.internalDate.time } : {}),
        });
        uidValidity = result.uidValidity;
        uids.push(result.uid);
      }
    } catch (err) {
      if (uids.length) await session.store.expunge(mailbox.id, uids);
      throw err;
    }
    return { code: { code: 'APPENDUID', args: [uidValidity, { atom: compactUidSet(uids) }] } };
  },
});
