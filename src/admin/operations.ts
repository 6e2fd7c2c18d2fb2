// Administrative operations shared by the `pigeon` command and (later) the HTTP admin API:
// validation (the store's own normalisation rules), existence checks, then one store call. Both faces call these, so a
// rule (what a valid domain is, how a CIDR is normalised) lives in one place.
import { BadCommand, Refused } from '../shared/errors.js';
import type { Account, AdminScope, Alias, AppPassword, Domain, DomainSettings, Network, Store } from '../store/store.js';
import * as normalize from '../store/normalize.js';
import { hashPassword, isPasswordHash } from '../auth/passwords.js';
import { MAX_APP_PASSWORD_NAME_LENGTH, checkAppPasswordName, createAppPassword } from '../auth/app-passwords.js';

export class InvalidInput extends Error {
  override name = 'InvalidInput';
}

/** The store's normalisation, with its BadCommand turned into InvalidInput for the admin faces. */
function valid<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof BadCommand) throw new InvalidInput(err.message);
    throw err;
  }
}

/** Lower-case ASCII (IDNA) form of a domain name, or InvalidInput. */
export function normalizeDomain(name: string): string {
  return valid(() => normalize.normalizeDomain(name));
}

/** "Local@Example.COM" → "Local@example.com". */
export function normalizeEmail(address: string): { email: string; local: string; domain: string } {
  const n = valid(() => normalize.normalizeAddress(address));
  return { email: n.address, local: n.local, domain: n.domain };
}

/** "192.0.2.7/24" → "192.0.2.0/24"; a bare address gets /32 or /128. */
export function normalizeCidr(text: string): string {
  try {
    return normalize.normalizeCidr(text);
  } catch (err) {
    if (err instanceof BadCommand) throw new InvalidInput(`not an IPv4 or IPv6 network: ${JSON.stringify(text)} (use e.g. 192.0.2.0/24 or 2001:db8::/32)`);
    throw err;
  }
}

export interface AdminOps {
  addDomain(name: string): Promise<Domain>;
  removeDomain(name: string, options?: { force?: boolean }): Promise<void>;
  listDomains(): Promise<Domain[]>;
  /** Per-domain settings (push on/off, push details, allowed callback hosts, sender enforcement). */
  setDomainSettings(name: string, changes: Partial<DomainSettings>): Promise<Domain>;
  /** isAdmin with adminScope 'server' (default) administers everything, 'domain' only the user's own domain. */
  addUser(input: { email: string; password: string; quota?: number; isAdmin?: boolean; adminScope?: AdminScope }): Promise<Account>;
  /** Also ends the account's admin sessions. */
  setPassword(email: string, password: string): Promise<Account>;
  /** Changing admin rights also ends the account's admin sessions. */
  updateUser(email: string, changes: { quota?: number; isAdmin?: boolean; adminScope?: AdminScope }): Promise<Account>;
  removeUser(email: string): Promise<void>;
  listUsers(domain?: string): Promise<Account[]>;
  /** A new app password for the user; the password itself is in this answer only (show it once). */
  addAppPassword(email: string, name: string): Promise<{ appPassword: AppPassword; password: string }>;
  listAppPasswords(email: string): Promise<AppPassword[]>;
  /** Revokes it: logins with it fail from now on, and the push subscriptions made with it end. */
  removeAppPassword(email: string, id: number): Promise<void>;
  addAlias(address: string, targets: string[]): Promise<Alias>;
  removeAlias(address: string): Promise<void>;
  listAliases(domain?: string): Promise<Alias[]>;
  addNetwork(cidr: string, note?: string): Promise<Network>;
  removeNetwork(cidr: string): Promise<void>;
  listNetworks(): Promise<Network[]>;
}

export function adminOps(store: Store): AdminOps {
  const requireDomain = async (domain: string) => {
    if (!(await store.getDomain(domain))) throw new Refused(`domain ${domain} does not exist (add it with: pigeon domain add ${domain})`, 'NONEXISTENT');
  };
  const requireUser = async (email: string) => {
    const { email: e } = normalizeEmail(email);
    const account = await store.getAccountByEmail(e);
    if (!account) throw new Refused(`no such user: ${e}`, 'NONEXISTENT');
    return account;
  };
  const password = async (pw: string) => {
    if (isPasswordHash(pw)) return pw; // imported {SHA512-CRYPT}/{BLF-CRYPT}/scrypt hash
    if (pw.length < 1 || pw.length > 1024) throw new InvalidInput('password must be 1 to 1024 characters');
    return hashPassword(pw);
  };
  return {
    async addDomain(name) {
      const d = normalizeDomain(name);
      if (await store.getDomain(d)) throw new Refused(`domain ${d} already exists`, 'ALREADYEXISTS');
      return store.addDomain(d);
    },
    async removeDomain(name, options) {
      const d = normalizeDomain(name);
      if (!(await store.getDomain(d))) throw new Refused(`no such domain: ${d}`, 'NONEXISTENT');
      await store.removeDomain(d, options);
    },
    listDomains: () => store.listDomains(),
    async setDomainSettings(name, changes) {
      const d = normalizeDomain(name);
      if (!(await store.getDomain(d))) throw new Refused(`no such domain: ${d}`, 'NONEXISTENT');
      const next: Partial<DomainSettings> = { ...changes };
      if (changes.pushAllowedHosts !== undefined) {
        next.pushAllowedHosts = [...new Set(changes.pushAllowedHosts.map((h) => h.trim().toLowerCase()).filter((h) => h !== ''))];
        for (const h of next.pushAllowedHosts) {
          if (h.length > 255 || !/^(\[[0-9a-f:.]+\]|[a-z0-9.:-]+)(:\d{1,5})?$/.test(h)) throw new InvalidInput(`not a host name or address: ${JSON.stringify(h)}`);
        }
      }
      return store.updateDomainSettings(d, next);
    },
    async addUser({ email, password: pw, quota, isAdmin, adminScope }) {
      const n = normalizeEmail(email);
      await requireDomain(n.domain);
      if (await store.getAccountByEmail(n.email)) throw new Refused(`user ${n.email} already exists`, 'ALREADYEXISTS');
      if (await store.getAlias(n.email)) throw new Refused(`${n.email} is already an alias`, 'ALREADYEXISTS');
      if (quota !== undefined && (!Number.isSafeInteger(quota) || quota < 0)) throw new InvalidInput('quota must be a whole number of bytes ≥ 0');
      if (adminScope !== undefined && adminScope !== 'domain' && adminScope !== 'server') throw new InvalidInput('admin scope must be "domain" or "server"');
      return store.createAccount({ email: n.email, passwordHash: await password(pw), quota: quota ?? 0, isAdmin: isAdmin ?? false, adminScope: adminScope ?? 'server' });
    },
    async setPassword(email, pw) {
      const account = await requireUser(email);
      const updated = await store.updateAccount(account.id, { passwordHash: await password(pw) });
      await store.adminSessions.deleteForAccount(account.id);
      return updated;
    },
    async updateUser(email, changes) {
      const account = await requireUser(email);
      if (changes.quota !== undefined && (!Number.isSafeInteger(changes.quota) || changes.quota < 0)) throw new InvalidInput('quota must be a whole number of bytes ≥ 0');
      if (changes.adminScope !== undefined && changes.adminScope !== 'domain' && changes.adminScope !== 'server') throw new InvalidInput('admin scope must be "domain" or "server"');
      const updated = await store.updateAccount(account.id, changes);
      if (updated.isAdmin !== account.isAdmin || updated.adminScope !== account.adminScope) await store.adminSessions.deleteForAccount(account.id);
      return updated;
    },
    async removeUser(email) {
      const account = await requireUser(email);
      await store.removeAccount(account.id);
    },
    listUsers: async (domain) => store.listAccounts(domain === undefined ? undefined : normalizeDomain(domain)),
    async addAppPassword(email, name) {
      const label = checkAppPasswordName(name);
      if (label === null) throw new InvalidInput(`an app password name is 1 to ${MAX_APP_PASSWORD_NAME_LENGTH} printable characters`);
      const account = await requireUser(email);
      return createAppPassword(store, account.id, label);
    },
    listAppPasswords: async (email) => store.listAppPasswords((await requireUser(email)).id),
    async removeAppPassword(email, id) {
      const account = await requireUser(email);
      if (!Number.isSafeInteger(id) || id < 1) throw new InvalidInput('an app password id is a positive whole number (see: pigeon user app-password list)');
      if (!(await store.removeAppPassword(account.id, id))) throw new Refused(`${account.email} has no app password ${id}`, 'NONEXISTENT');
    },
    async addAlias(address, targets) {
      let key: string;
      if (address.startsWith('@')) {
        key = `@${normalizeDomain(address.slice(1))}`;
        await requireDomain(key.slice(1));
      } else {
        const n = normalizeEmail(address);
        await requireDomain(n.domain);
        if (await store.getAccountByEmail(n.email)) throw new Refused(`${n.email} is a user; an alias cannot have the same address`, 'ALREADYEXISTS');
        key = n.email;
      }
      if (targets.length === 0) throw new InvalidInput('an alias needs at least one target address');
      const normalized = targets.map((t) => normalizeEmail(t).email);
      if (await store.getAlias(key)) throw new Refused(`alias ${key} already exists`, 'ALREADYEXISTS');
      return store.addAlias(key, [...new Set(normalized)]);
    },
    async removeAlias(address) {
      const key = address.startsWith('@') ? `@${normalizeDomain(address.slice(1))}` : normalizeEmail(address).email;
      if (!(await store.getAlias(key))) throw new Refused(`no such alias: ${key}`, 'NONEXISTENT');
      await store.removeAlias(key);
    },
    listAliases: async (domain) => store.listAliases(domain === undefined ? undefined : normalizeDomain(domain)),
    async addNetwork(cidr, note) {
      const c = normalizeCidr(cidr);
      if ((await store.listNetworks()).some((n) => n.cidr === c)) throw new Refused(`network ${c} is already in My Networks`, 'ALREADYEXISTS');
      return store.addNetwork(c, note ?? '');
    },
    async removeNetwork(cidr) {
      const c = normalizeCidr(cidr);
      if (!(await store.listNetworks()).some((n) => n.cidr === c)) throw new Refused(`network ${c} is not in My Networks`, 'NONEXISTENT');
      await store.removeNetwork(c);
    },
    listNetworks: () => store.listNetworks(),
  };
}
