// QUOTA (RFC 9208): one quota root per account, named "" (§3.2), holding every mailbox, with the
// STORAGE resource (§5.1: units of 1024 octets) from the account's quota and used bytes. An account
// without a quota (0 = unlimited) has no quota root: GETQUOTAROOT lists none (§4.3) and GETQUOTA
// answers NO. Users cannot change their quota: SETQUOTA is NO [NOPERM] (§4.1); admins use the
// console. Usage is read from the store at each command, so it includes deliveries since login.
import { Refused } from '../../shared/errors.js';
import type { Account } from '../../store/store.js';
import type { ImapValue } from '../wire/types.js';
import { defineCommand, states } from '../session/command.js';
import { requireMailbox } from '../session/helpers.js';
import type { Session } from '../session/session.js';

const ROOT = '';

async function freshAccount(session: Session): Promise<Account> {
  const account = await session.store.getAccount(session.account!.id);
  if (!account) throw new Refused('Account no longer exists', 'NONEXISTENT');
  return account;
}

/** `* QUOTA "" (STORAGE used limit)`, used rounded up and the limit down to KiB (RFC 9208 §5.1). */
function quotaResponse(account: Account): ImapValue[] {
  return [{ atom: 'QUOTA' }, ROOT, [{ atom: 'STORAGE' }, Math.ceil(account.usedBytes / 1024), Math.floor(account.quota / 1024)]];
}

export const getQuota = defineCommand({
  names: ['GETQUOTA'],
  states: states.authenticated,
  async run(session, command) {
    const account = await freshAccount(session);
    if (command.root !== ROOT || account.quota === 0) throw new Refused('No such quota root', 'NONEXISTENT');
    session.data(quotaResponse(account));
  },
});

export const getQuotaRoot = defineCommand({
  names: ['GETQUOTAROOT'],
  states: states.authenticated,
  async run(session, command) {
    const mailbox = await requireMailbox(session, command.mailbox);
    const account = await freshAccount(session);
    if (account.quota === 0) {
      session.data([{ atom: 'QUOTAROOT' }, { mailbox: mailbox.name }]);
      return;
    }
    session.data([{ atom: 'QUOTAROOT' }, { mailbox: mailbox.name }, ROOT]);
    session.data(quotaResponse(account));
  },
});

export const setQuota = defineCommand({
  names: ['SETQUOTA'],
  states: states.authenticated,
  async run() {
    throw new Refused('Quotas are set by the administrator', 'NOPERM');
  },
});
