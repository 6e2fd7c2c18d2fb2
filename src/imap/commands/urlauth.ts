// URLAUTH commands (RFC 4467 §7): GENURLAUTH signs URLs with the INTERNAL mechanism, URLFETCH reads
// authorised URLs (NIL for each one refused, §7.3), RESETKEY replaces mailbox access keys (§7.2).
// The signing and checking live in ../urlauth.ts, shared with SMTP BURL.
import { BadCommand, Refused } from '../../shared/errors.js';
import type { ImapValue } from '../wire/types.js';
import { defineCommand, states } from '../session/command.js';
import { requireMailbox } from '../session/helpers.js';
import { generateUrlauth, readUrlauth, URLAUTH_MECHANISM, UrlauthError } from '../urlauth.js';
import { badUrl } from './catenate.js';

/** URLs per GENURLAUTH / URLFETCH command. */
const MAX_URLS = 100;

export const genUrlAuth = defineCommand({
  names: ['GENURLAUTH'],
  states: states.authenticated,
  async run(session, command) {
    if (command.items.length > MAX_URLS) throw new BadCommand(`At most ${MAX_URLS} URLs`);
    const out: ImapValue[] = [{ atom: 'GENURLAUTH' }];
    const owner = session.account!;
    for (const { url, mechanism } of command.items) {
      if (mechanism !== URLAUTH_MECHANISM) throw new Refused(`Unknown URLAUTH mechanism ${mechanism}`, 'CANNOT');
      try {
        out.push(await generateUrlauth(session.store, url, { owner, hostname: session.config.hostname }));
      } catch (err) {
        if (err instanceof UrlauthError) throw badUrl(url, err.message);
        throw err;
      }
    }
    session.data(out);
  },
});

export const urlFetch = defineCommand({
  names: ['URLFETCH'],
  states: states.authenticated,
  async run(session, command) {
    if (command.urls.length > MAX_URLS) throw new BadCommand(`At most ${MAX_URLS} URLs`);
    for (const url of command.urls) {
      let data: Buffer | null = null;
      try {
        data = await readUrlauth(session.store, url, { reader: { imapUser: session.account!.email }, hostname: session.config.hostname });
      } catch (err) {
        if (!(err instanceof UrlauthError)) throw err;
        session.logger.debug({ session: session.id, err: err.message }, 'urlfetch refused');
      }
      session.data([{ atom: 'URLFETCH' }, url, data]);
      await session.throttle();
    }
  },
});

export const resetKey = defineCommand({
  names: ['RESETKEY'],
  states: states.authenticated,
  async run(session, command) {
    for (const m of command.mechanisms) if (m !== URLAUTH_MECHANISM) throw new Refused(`Unknown URLAUTH mechanism ${m}`, 'CANNOT');
    const accountId = session.account!.id;
    if (command.mailbox === undefined) await session.store.resetMailboxAccessKeys(accountId);
    else await session.store.resetMailboxAccessKeys(accountId, (await requireMailbox(session, command.mailbox)).id);
    return { text: 'RESETKEY completed' };
  },
});
