// LIST with LIST-EXTENDED (RFC 9051 §6.3.9, RFC 5258), CHILDREN (RFC 3348), SPECIAL-USE
// (RFC 6154), LIST-STATUS (RFC 5819); LSUB (RFC 3501 §6.3.9); NAMESPACE (RFC 2342, RFC 9051 §6.3.10).
// Names match patterns after reference + pattern concatenation; `*` matches anything, `%`
// anything but the delimiter. A hierarchy level that is not a mailbox but has mailboxes below it
// is listed as \NonExistent (IMAP4rev2, RFC 9051 §7.3.1) or \Noselect (IMAP4rev1).
import type { Mailbox } from '../../store/store.js';
import type { ImapValue } from '../wire/types.js';
import { defineCommand, states } from '../session/command.js';
import { DELIMITER } from '../session/helpers.js';
import type { Session } from '../session/session.js';
import { statusValues } from './status.js';

/** Longest reference + pattern accepted (longer ones cannot match a valid name anyway). */
const MAX_PATTERN = 2048;

/**
 * A matcher for reference + pattern (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the
 * delimiter; INBOX matches in any case. Simulated as an NFA over the pattern (time O(name ×
 * pattern), no backtracking), so hostile patterns such as "*a*a*a*a*b" cannot stall the server.
 */
export function patternMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full = (reference + pattern).slice(0, MAX_PATTERN + 1);
  if (full.length > MAX_PATTERN) return () => false;
  if (/^inbox(?=$|\/)/i.test(full)) full = 'INBOX' + full.slice(5);
  // Runs of wildcards collapse: "**" = "*", and "*" absorbs "%".
  full = full.replace(/[*%]{2,}/g, (run) => (run.includes('*') ? '*' : '%'));
  const p = full;
  const m = p.length;
  return (name: string): boolean => {
    let cur = new Uint8Array(m + 1);
    let next = new Uint8Array(m + 1);
    const close = (set: Uint8Array): void => {
      for (let i = 0; i < m; i++) if (set[i] && (p[i] === '*' || p[i] === '%')) set[i + 1] = 1;
    };
    cur[0] = 1;
    close(cur);
    for (let k = 0; k < name.length; k++) {
      const c = name[k]!;
      next.fill(0);
      let any = false;
      for (let i = 0; i < m; i++) {
        if (!cur[i]) continue;
        const t = p[i]!;
        if (t === '*' || (t === '%' && c !== DELIMITER)) next[i] = 1;
        else if (t === c) next[i + 1] = 1;
        else continue;
        any = true;
      }
      if (!any) return false;
      close(next);
      [cur, next] = [next, cur];
    }
    return cur[m] === 1;
  };
}

/** Every name: the mailboxes and their implied parents (levels with no mailbox of their own). */
function allNames(names: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const name of names) {
    const levels = name.split(DELIMITER);
    for (let i = 1; i <= levels.length; i++) out.add(levels.slice(0, i).join(DELIMITER));
  }
  return out;
}

function sortNames(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => (a === 'INBOX' ? -1 : b === 'INBOX' ? 1 : a < b ? -1 : a > b ? 1 : 0));
}

export const list = defineCommand({
  names: ['LIST'],
  states: states.authenticated,
  async run(session, command) {
    const { selection, returns } = command;
    if (command.patterns.length === 1 && command.patterns[0] === '' && selection.length === 0) {
      // RFC 9051 §6.3.9: an empty pattern asks for the delimiter and the root.
      session.data([{ atom: 'LIST' }, [{ atom: '\\Noselect' }], DELIMITER, '']);
      return;
    }
    const accountId = session.account!.id;
    const mailboxes = await session.store.listMailboxes(accountId);
    const byName = new Map<string, Mailbox>(mailboxes.map((m) => [m.name, m]));
    const selSubscribed = selection.includes('SUBSCRIBED');
    const selSpecial = selection.includes('SPECIAL-USE');
    const recursive = selection.includes('RECURSIVEMATCH');
    const wantSubscribed = selSubscribed || returns.subscribed;
    const subscribed = wantSubscribed ? new Set(await session.store.listSubscriptions(accountId)) : new Set<string>();
    const matchers = command.patterns.map((p) => patternMatcher(command.reference, p));
    const matches = (name: string): boolean => matchers.some((f) => f(name));
    const universe = selSubscribed ? allNames([...subscribed]) : allNames(byName.keys());
    const hasChildren = (name: string): boolean => {
      const prefix = name + DELIMITER;
      for (const n of byName.keys()) if (n.startsWith(prefix)) return true;
      return false;
    };
    const subscribedChild = (name: string): boolean => {
      const prefix = name + DELIMITER;
      for (const n of subscribed) if (n.startsWith(prefix)) return true;
      return false;
    };
    for (const name of sortNames(universe)) {
      if (!matches(name)) continue;
      const mailbox = byName.get(name);
      const isSubscribed = subscribed.has(name);
      let childInfo = false;
      if (selSubscribed && !isSubscribed) {
        // RFC 5258 §3.5: a parent of subscribed names is listed only with RECURSIVEMATCH, with CHILDINFO.
        if (recursive && subscribedChild(name)) childInfo = true;
        else continue;
      }
      if (selSpecial && !mailbox?.specialUse) continue;
      const attrs: ImapValue[] = [];
      if (!mailbox) attrs.push({ atom: session.rev2 || command.extended ? '\\NonExistent' : '\\Noselect' });
      attrs.push({ atom: hasChildren(name) ? '\\HasChildren' : '\\HasNoChildren' });
      if (mailbox?.specialUse) attrs.push({ atom: mailbox.specialUse });
      if (wantSubscribed && isSubscribed) attrs.push({ atom: '\\Subscribed' });
      const line: ImapValue[] = [{ atom: 'LIST' }, attrs, DELIMITER, { mailbox: name }];
      if (childInfo) line.push(['CHILDINFO', ['SUBSCRIBED']]);
      session.data(line);
      if (returns.status && mailbox) {
        session.data([{ atom: 'STATUS' }, { mailbox: name }, await statusValues(session, mailbox, returns.status)]);
      }
    }
  },
});

export const lsub = defineCommand({
  names: ['LSUB'],
  states: states.authenticated,
  async run(session, command) {
    const accountId = session.account!.id;
    const subscribed = new Set(await session.store.listSubscriptions(accountId));
    const existing = new Set((await session.store.listMailboxes(accountId)).map((m) => m.name));
    const matches = patternMatcher(command.reference, command.pattern);
    const partial = command.pattern.includes('%');
    for (const name of sortNames(allNames(subscribed))) {
      if (!matches(name)) continue;
      const isSubscribed = subscribed.has(name);
      if (!isSubscribed && !partial) continue;
      // RFC 3501 §6.3.9: an unsubscribed level shown for `%` carries \Noselect.
      const attrs: ImapValue[] = !isSubscribed || !existing.has(name) ? [{ atom: '\\Noselect' }] : [];
      session.data([{ atom: 'LSUB' }, attrs, DELIMITER, { mailbox: name }]);
    }
  },
});

export const namespace = defineCommand({
  names: ['NAMESPACE'],
  states: states.authenticated,
  async run(session: Session) {
    session.data([{ atom: 'NAMESPACE' }, [['', DELIMITER]], null, null]);
  },
});
