// METADATA and METADATA-SERVER (RFC 5464): per-account entries on the server (mailbox "") and on
// each mailbox, for client settings. /private/… and /shared/… are both kept per account (Pigeon has
// no shared mailboxes, so both are visible to the owner only).
//
// Limits (RFC 5464 §4.3): a value holds at most MAX_VALUE_BYTES (else NO [METADATA MAXSIZE n]; a
// literal over the wire limit of 64 KiB is refused by the parser first);
// one server or mailbox holds at most MAX_ENTRIES entries and MAX_TOTAL_BYTES (else
// NO [METADATA TOOMANY]), checked in the store transaction so SETMETADATA is all or nothing.
// GETMETADATA (§4.2): DEPTH 0 / 1 / infinity, MAXSIZE leaves larger values out and reports the
// largest in OK [METADATA LONGENTRIES n]; an entry asked for that matches nothing is NIL (§4.2.1 example).
import { BadCommand, Refused } from '../../shared/errors.js';
import type { MetadataEntry, MetadataTarget } from '../../store/store.js';
import type { ImapValue } from '../wire/types.js';
import { defineCommand, states } from '../session/command.js';
import { requireMailbox } from '../session/helpers.js';
import { RefusedWithArgs } from '../session/errors.js';
import type { Session } from '../session/session.js';

export const MAX_VALUE_BYTES = 32 * 1024;
export const MAX_ENTRIES = 200;
export const MAX_TOTAL_BYTES = 1024 * 1024;
const MAX_ENTRY_NAME = 1024;

/** RFC 5464 §3.2 entry names: /private/… or /shared/…, no empty component, no wildcard. */
function checkEntry(entry: string): string {
  const name = entry.toLowerCase();
  if (name.length > MAX_ENTRY_NAME) throw new BadCommand('Entry name too long');
  if (!/^\/(private|shared)(\/[^/]+)+$/.test(name)) throw new BadCommand(`Bad entry name ${entry}`);
  if (/[*%\x00-\x1f\x7f]/.test(name)) throw new BadCommand(`Bad entry name ${entry}`);
  return name;
}

async function targetOf(session: Session, mailbox: string): Promise<{ target: MetadataTarget; name: string }> {
  const accountId = session.account!.id;
  if (mailbox === '') return { target: { accountId, mailboxId: null }, name: '' };
  const m = await requireMailbox(session, mailbox);
  return { target: { accountId, mailboxId: m.id }, name: m.name };
}

function metadataCode(args: ImapValue[]): { code: string; args: ImapValue[] } {
  return { code: 'METADATA', args };
}

function entryValue(name: string): ImapValue {
  return /^[\x21-\x7e]+$/.test(name) && !/[(){"\\\]]/.test(name) ? { atom: name } : name;
}

function valueOf(v: Buffer): ImapValue {
  const text = v.toString('utf8');
  return Buffer.from(text, 'utf8').equals(v) && !text.includes('\0') ? text : v;
}

/** Depth below `prefix` (0 = the entry itself), or -1 when `name` is not under it. */
function depthBelow(name: string, prefix: string): number {
  if (name === prefix) return 0;
  if (!name.startsWith(prefix + '/')) return -1;
  return name.slice(prefix.length + 1).split('/').length;
}

export const getMetadata = defineCommand({
  names: ['GETMETADATA'],
  states: states.authenticated,
  async run(session, command) {
    const asked = command.entries.map(checkEntry);
    const { target, name } = await targetOf(session, command.mailbox);
    const maxDepth = command.options.depth === 'infinity' ? Infinity : Number(command.options.depth ?? '0');
    const entries: MetadataEntry[] = await session.store.getMetadata(target);
    const out: ImapValue[] = [];
    let longest = 0;
    const seen = new Set<string>();
    for (const prefix of asked) {
      let found = false;
      for (const e of entries) {
        const d = depthBelow(e.name, prefix);
        if (d < 0 || d > maxDepth) continue;
        found = true;
        if (seen.has(e.name)) continue;
        seen.add(e.name);
        if (command.options.maxSize !== undefined && e.value.length > command.options.maxSize) {
          longest = Math.max(longest, e.value.length);
          continue;
        }
        out.push(entryValue(e.name), valueOf(e.value));
      }
      if (!found && !seen.has(prefix)) {
        seen.add(prefix);
        out.push(entryValue(prefix), null);
      }
    }
    if (out.length) session.data([{ atom: 'METADATA' }, { mailbox: name }, out]);
    if (longest > 0) return { code: metadataCode([{ atom: 'LONGENTRIES' }, longest]) };
  },
});

export const setMetadata = defineCommand({
  names: ['SETMETADATA'],
  states: states.authenticated,
  async run(session, command) {
    const entries = command.entries.map((e) => ({ name: checkEntry(e.entry), value: e.value }));
    for (const e of entries) {
      if (e.value && e.value.length > MAX_VALUE_BYTES) {
        throw new RefusedWithArgs(`Value of ${e.name} too large`, 'METADATA', [{ atom: 'MAXSIZE' }, MAX_VALUE_BYTES]);
      }
    }
    const { target } = await targetOf(session, command.mailbox);
    try {
      await session.store.setMetadata(target, entries, { maxEntries: MAX_ENTRIES, maxBytes: MAX_TOTAL_BYTES });
    } catch (err) {
      if (err instanceof Refused && err.code === 'LIMIT') {
        throw new RefusedWithArgs('Too many metadata entries', 'METADATA', [{ atom: 'TOOMANY' }]);
      }
      throw err;
    }
  },
});
