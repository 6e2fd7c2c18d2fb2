// The `pigeon` command: serve, init, and management of the configured store (domains, users,
// aliases, My Networks, local delivery, integrity check). Management commands work while the
// server runs (SQLite in WAL mode; the server is woken through the store's change feed).
// Errors are one line on stderr and a non-zero exit code.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, configPath } from '../config/load.js';
import { configTemplate } from '../config/template.js';
import type { Config } from '../config/schema.js';
import { ConfigError, Refused, errorMessage } from '../shared/errors.js';
import { openStore } from '../store/open.js';
import type { AdminScope, Store } from '../store/store.js';
import { adminOps, InvalidInput, normalizeEmail } from '../admin/operations.js';
import { deliverFromCli } from '../delivery/deliver.js';
import { UsageError, formatSize, parseSize, readPassword, readStdin, table } from './args.js';
import { listIntegratedAccounts, pushDomainInfo, pushServerEnabled, setPushServerEnabled } from '../push/admin.js';
import type { DomainSettings } from '../store/store.js';

const USAGE = `Usage: pigeon <command> [options]

  serve [--config FILE]                       run the mail server
  init [--config FILE] [--hostname NAME] [--force]
                                              write a commented pigeon.toml
  domain add|remove DOMAIN [--force]          manage local domains
  domain list [--json]
  domain set DOMAIN [--push on|off] [--push-details on|off] [--push-allowed-hosts HOST,…]
                                              per-domain push settings; prints the Subscribe URL
  user add EMAIL [--password PW] [--quota SIZE] [--admin[=server|domain]]
                                              (password from --password or standard input;
                                              --admin: administers everything in the console,
                                              --admin=domain: only the user's own domain)
  user passwd EMAIL [--password PW]
  user set EMAIL [--quota SIZE] [--admin[=server|domain]|--no-admin] [--sent-copy on|off]
                                              --sent-copy: file submitted mail into Sent
  user remove EMAIL
  user list [--domain DOMAIN] [--json]
  user app-password add EMAIL --name LABEL [--json]
                                              make an app password (printed once) for one
                                              mail client or device
  user app-password list EMAIL [--json]
  user app-password remove EMAIL ID           revoke it (its push subscriptions end too)
  alias add ADDRESS TARGET [TARGET…]          ADDRESS may be @domain (catch-all)
  alias remove ADDRESS
  alias list [--domain DOMAIN] [--json]
  network add CIDR [--note TEXT]              My Networks: clients that may relay
  network remove CIDR
  network list [--json]
  deliver RECIPIENT… [--mailbox NAME] < message.eml
                                              local delivery (exit 0, 67 unknown user, 75 try later)
  push list [--domain DOMAIN] [--json]        Integrated Accounts: push subscriptions
  push remove ID                              end a push subscription
  push server on|off                          server-wide push switch (with [push] enabled)
  queue list|show ID|retry ID|remove ID|flush [--json]
                                              the outbound queue
  dkim generate DOMAIN [--selector S]         make a DKIM key; prints the DNS record
  dkim show DOMAIN | list | remove DOMAIN
  check                                       verify the store's integrity
  migrate-store --to postgres://…             copy this SQLite installation into an empty
                                              PostgreSQL database (stop Pigeon first)

Every command takes --config FILE (or PIGEON_CONFIG).`;

const common = { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

function args<T extends ParseArgsConfig['options']>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options: { ...common, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') || text === '' ? text : text + '\n');
}

function config(file: string | undefined): Config {
  return loadConfig(configPath(file));
}

async function withStore<T>(cfg: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore({ driver: cfg.store.driver as 'sqlite' | 'postgres', url: cfg.store.url, dataDir: cfg.data_dir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function need(positionals: string[], n: number, usage: string): void {
  if (positionals.length < n) throw new UsageError(`usage: pigeon ${usage}`);
}

function onOff(value: string | undefined, option: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (/^(on|yes|true)$/i.test(value)) return true;
  if (/^(off|no|false)$/i.test(value)) return false;
  throw new UsageError(`${option} must be on or off`);
}

async function domainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, {
    force: { type: 'boolean' }, push: { type: 'string' }, 'push-details': { type: 'string' }, 'push-allowed-hosts': { type: 'string' },
  });
  const [verb, name] = positionals;
  const cfg = config(values.config);
  return withStore(cfg, async (store) => {
    const ops = adminOps(store);
    switch (verb) {
      case 'set': {
        need(positionals, 2, 'domain set DOMAIN [--push on|off] [--push-details on|off] [--push-allowed-hosts HOST,…]');
        const changes: Partial<DomainSettings> = {};
        const push = onOff(values.push, '--push');
        const details = onOff(values['push-details'], '--push-details');
        if (push !== undefined) changes.pushEnabled = push;
        if (details !== undefined) changes.pushDetails = details;
        if (values['push-allowed-hosts'] !== undefined) changes.pushAllowedHosts = values['push-allowed-hosts'].split(',');
        if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give --push, --push-details or --push-allowed-hosts');
        const d = await ops.setDomainSettings(name!, changes);
        const info = pushDomainInfo(cfg, d.name);
        if (values.json) out(JSON.stringify({ name: d.name, settings: d.settings, ...info }));
        else {
          out([
            `domain ${d.name} updated`,
            `  push:           ${d.settings.pushEnabled ? 'on' : 'off'}${d.settings.pushEnabled && !(await pushServerEnabled(cfg, store)) ? ' (but push is off server-wide)' : ''}`,
            `  push details:   ${d.settings.pushDetails ? 'on (sender and subject)' : 'off (counts only)'}`,
            `  allowed hosts:  ${d.settings.pushAllowedHosts.join(', ') || '(none)'}`,
            `  Subscribe URL:  ${info.subscribeUrl}`,
            `  SMTP server:    ${info.smtpServer ?? '(no submission listener)'}`,
          ].join('\n'));
        }
        return 0;
      }
      case 'add':
        need(positionals, 2, 'domain add DOMAIN');
        out(`domain ${(await ops.addDomain(name!)).name} added`);
        return 0;
      case 'remove':
        need(positionals, 2, 'domain remove DOMAIN [--force]');
        await ops.removeDomain(name!, { force: values.force ?? false });
        out(`domain ${name!.toLowerCase()} removed`);
        return 0;
      case 'list': {
        const domains = await ops.listDomains();
        if (values.json) out(JSON.stringify(domains.map((d) => ({ name: d.name, createdAt: new Date(d.createdAt).toISOString(), settings: d.settings }))));
        else out(table(domains.map((d) => [d.name, new Date(d.createdAt).toISOString()]), ['DOMAIN', 'CREATED']));
        return 0;
      }
      default:
        throw new UsageError('usage: pigeon domain add|remove|list|set …');
    }
  });
}

/** `--admin` / `--admin=server` → server admin; `--admin=domain` → admin of the user's own domain. */
function adminFlag(argv: string[]): { argv: string[]; scope: AdminScope | undefined } {
  let scope: AdminScope | undefined;
  const rest = argv.filter((a) => {
    const m = /^--admin(?:=(.*))?$/.exec(a);
    if (!m) return true;
    const v = m[1] ?? 'server';
    if (v !== 'server' && v !== 'domain') throw new UsageError(`--admin takes "server" (everything) or "domain" (the user's own domain), not ${JSON.stringify(v)}`);
    scope = v;
    return false;
  });
  return { argv: rest, scope };
}

async function userCommand(rawArgv: string[]): Promise<number> {
  if (rawArgv[0] === 'app-password') return appPasswordCommand(rawArgv.slice(1));
  const { argv, scope } = adminFlag(rawArgv);
  const { values, positionals } = args(argv, {
    password: { type: 'string' }, quota: { type: 'string' }, 'no-admin': { type: 'boolean' }, domain: { type: 'string' }, 'sent-copy': { type: 'string' },
  });
  if (scope !== undefined && values['no-admin']) throw new UsageError('give either --admin or --no-admin');
  const [verb, email] = positionals;
  const cfg = config(values.config);
  const quota = values.quota === undefined ? undefined : parseSize(values.quota, '--quota');
  // Read the password before opening the store, so a prompt error leaves nothing half done.
  const password = verb === 'add' || verb === 'passwd' ? (need(positionals, 2, `user ${verb} EMAIL`), await readPassword(values.password)) : undefined;
  return withStore(cfg, async (store) => {
    const ops = adminOps(store);
    switch (verb) {
      case 'add': {
        const a = await ops.addUser({ email: email!, password: password!, ...(quota !== undefined ? { quota } : {}), isAdmin: scope !== undefined, ...(scope ? { adminScope: scope } : {}) });
        out(`user ${a.email} added${a.isAdmin ? (a.adminScope === 'server' ? ' (server admin)' : ' (domain admin)') : ''}${a.quota ? `, quota ${formatSize(a.quota)}` : ''}`);
        return 0;
      }
      case 'passwd':
        await ops.setPassword(email!, password!);
        out(`password of ${email} changed`);
        return 0;
      case 'set': {
        need(positionals, 2, 'user set EMAIL [--quota SIZE] [--admin[=server|domain]|--no-admin]');
        const changes: { quota?: number; isAdmin?: boolean; adminScope?: AdminScope } = {};
        if (quota !== undefined) changes.quota = quota;
        if (scope !== undefined) Object.assign(changes, { isAdmin: true, adminScope: scope });
        if (values['no-admin']) changes.isAdmin = false;
        const sentCopy = values['sent-copy'];
        if (sentCopy !== undefined && sentCopy !== 'on' && sentCopy !== 'off') throw new UsageError('--sent-copy takes on or off');
        if (Object.keys(changes).length === 0 && sentCopy === undefined) throw new UsageError('nothing to change: give --quota, --admin, --no-admin or --sent-copy');
        const a = Object.keys(changes).length > 0 ? await ops.updateUser(email!, changes) : await store.getAccountByEmail(email!);
        if (!a) throw new Refused(`no such user ${email}`, 'NONEXISTENT');
        if (sentCopy !== undefined) await store.queue.setSentCopy(a.id, sentCopy === 'on');
        out(`user ${a.email} updated`);
        return 0;
      }
      case 'remove':
        need(positionals, 2, 'user remove EMAIL');
        await ops.removeUser(email!);
        out(`user ${email} removed`);
        return 0;
      case 'list': {
        const users = await ops.listUsers(values.domain);
        if (values.json) out(JSON.stringify(users.map((u) => ({ email: u.email, quota: u.quota, usedBytes: u.usedBytes, isAdmin: u.isAdmin, admin: u.isAdmin ? u.adminScope : 'none', createdAt: new Date(u.createdAt).toISOString() }))));
        else out(table(users.map((u) => [u.email, u.quota ? formatSize(u.quota) : 'unlimited', formatSize(u.usedBytes), u.isAdmin ? u.adminScope : '']), ['USER', 'QUOTA', 'USED', 'ADMIN']));
        return 0;
      }
      default:
        throw new UsageError('usage: pigeon user add|passwd|set|remove|list|app-password …');
    }
  });
}

const when = (t: number | null) => (t === null ? '-' : new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

/** `pigeon user app-password add|list|remove`. */
async function appPasswordCommand(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { name: { type: 'string' } });
  const [verb, email, id] = positionals;
  const usage = 'user app-password add EMAIL --name LABEL | list EMAIL | remove EMAIL ID';
  if (verb !== 'add' && verb !== 'list' && verb !== 'remove') throw new UsageError(`usage: pigeon ${usage}`);
  need(positionals, verb === 'remove' ? 3 : 2, `user app-password ${verb === 'add' ? 'add EMAIL --name LABEL' : verb === 'list' ? 'list EMAIL [--json]' : 'remove EMAIL ID'}`);
  if (verb === 'add' && values.name === undefined) throw new UsageError('usage: pigeon user app-password add EMAIL --name LABEL (a name to tell it apart, e.g. "Phone")');
  if (verb === 'remove' && !/^\d{1,15}$/.test(id!)) throw new UsageError(`app password ID must be a number (see: pigeon user app-password list ${email})`);
  return withStore(config(values.config), async (store) => {
    const ops = adminOps(store);
    switch (verb) {
      case 'add': {
        const { appPassword: a, password } = await ops.addAppPassword(email!, values.name!);
        if (values.json) out(JSON.stringify({ id: a.id, name: a.name, password, createdAt: new Date(a.createdAt).toISOString() }));
        else {
          out([
            `app password ${a.id} (${a.name}) added for ${normalizeEmail(email!).email}:`,
            '',
            `    ${password}`,
            '',
            'Use it in place of the account password in that one mail client; it is not shown again.',
          ].join('\n'));
        }
        return 0;
      }
      case 'list': {
        const list = await ops.listAppPasswords(email!);
        if (values.json) out(JSON.stringify(list.map((a) => ({ id: a.id, name: a.name, createdAt: new Date(a.createdAt).toISOString(), lastUsedAt: a.lastUsedAt === null ? null : new Date(a.lastUsedAt).toISOString() }))));
        else out(table(list.map((a) => [String(a.id), a.name, when(a.createdAt), when(a.lastUsedAt)]), ['ID', 'NAME', 'CREATED', 'LAST USED']));
        return 0;
      }
      case 'remove':
        await ops.removeAppPassword(email!, Number(id));
        out(`app password ${id} of ${normalizeEmail(email!).email} revoked`);
        return 0;
    }
  });
}

async function aliasCommand(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { domain: { type: 'string' } });
  const [verb, address, ...targets] = positionals;
  return withStore(config(values.config), async (store) => {
    const ops = adminOps(store);
    switch (verb) {
      case 'add': {
        need(positionals, 3, 'alias add ADDRESS TARGET [TARGET…]');
        const a = await ops.addAlias(address!, targets);
        out(`alias ${a.address} → ${a.targets.join(', ')} added`);
        return 0;
      }
      case 'remove':
        need(positionals, 2, 'alias remove ADDRESS');
        await ops.removeAlias(address!);
        out(`alias ${address} removed`);
        return 0;
      case 'list': {
        const aliases = await ops.listAliases(values.domain);
        if (values.json) out(JSON.stringify(aliases.map((a) => ({ address: a.address, targets: a.targets }))));
        else out(table(aliases.map((a) => [a.address, a.targets.join(', ')]), ['ALIAS', 'TARGETS']));
        return 0;
      }
      default:
        throw new UsageError('usage: pigeon alias add|remove|list …');
    }
  });
}

async function networkCommand(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { note: { type: 'string' } });
  const [verb, cidr] = positionals;
  return withStore(config(values.config), async (store) => {
    const ops = adminOps(store);
    switch (verb) {
      case 'add': {
        need(positionals, 2, 'network add CIDR [--note TEXT]');
        const n = await ops.addNetwork(cidr!, values.note);
        out(`network ${n.cidr} added to My Networks`);
        return 0;
      }
      case 'remove':
        need(positionals, 2, 'network remove CIDR');
        await ops.removeNetwork(cidr!);
        out(`network ${cidr} removed from My Networks`);
        return 0;
      case 'list': {
        const nets = await ops.listNetworks();
        if (values.json) out(JSON.stringify(nets.map((n) => ({ cidr: n.cidr, note: n.note }))));
        else out(table(nets.map((n) => [n.cidr, n.note]), ['NETWORK', 'NOTE']));
        return 0;
      }
      default:
        throw new UsageError('usage: pigeon network add|remove|list …');
    }
  });
}

async function pushCommand(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { domain: { type: 'string' } });
  const [verb, arg] = positionals;
  const cfg = config(values.config);
  return withStore(cfg, async (store) => {
    switch (verb) {
      case 'list': {
        const rows = await listIntegratedAccounts(store, values.domain !== undefined ? { domain: values.domain } : {});
        if (values.json) out(JSON.stringify(rows));
        else {
          const day = (t: string | null) => (t === null ? '-' : t.replace('T', ' ').replace(/\.\d+Z$/, 'Z'));
          out(table(rows.map((r) => [r.id, r.account, r.device, r.relayHost + (r.webPush ? ' (Web Push)' : ''), r.state, day(r.createdAt), day(r.lastNotification), r.lastError ?? '']),
            ['ID', 'ACCOUNT', 'DEVICE', 'RELAY', 'STATE', 'CREATED', 'LAST NOTIFICATION', 'LAST ERROR']));
        }
        return 0;
      }
      case 'remove': {
        need(positionals, 2, 'push remove ID');
        if (!(await store.push.deleteSubscription(arg!))) throw new Refused(`no such push subscription: ${arg}`, 'NONEXISTENT');
        out(`push subscription ${arg} removed`);
        return 0;
      }
      case 'server': {
        const on = onOff(arg, 'push server');
        if (on === undefined) {
          out(`push is ${(await pushServerEnabled(cfg, store)) ? 'on' : 'off'} server-wide`);
          return 0;
        }
        await setPushServerEnabled(store, on);
        out(`push ${on ? 'on' : 'off'} server-wide${on && !cfg.push.enabled ? ' (but [push] enabled = false in the config file)' : ''}`);
        return 0;
      }
      default:
        throw new UsageError('usage: pigeon push list|remove|server …');
    }
  });
}

async function deliverCommand(argv: string[]): Promise<number> {
  const { values, positionals } = args(argv, { mailbox: { type: 'string', short: 'm' } });
  if (positionals.length === 0) throw new UsageError('usage: pigeon deliver RECIPIENT… [--mailbox NAME] < message.eml');
  const cfg = config(values.config);
  const raw = await readStdin(cfg.limits.max_message_size);
  return withStore(cfg, (store) => deliverFromCli(store, { recipients: positionals, raw, ...(values.mailbox ? { mailbox: values.mailbox } : {}) }));
}

async function checkCommand(argv: string[]): Promise<number> {
  const { values } = args(argv, {});
  return withStore(config(values.config), async (store) => {
    const problems = await store.check();
    if (values.json) out(JSON.stringify({ ok: problems.length === 0, problems }));
    else out(problems.length === 0 ? 'store is sound' : problems.map((p) => `problem: ${p}`).join('\n'));
    return problems.length === 0 ? 0 : 1;
  });
}

async function initCommand(argv: string[]): Promise<number> {
  const { values } = args(argv, { hostname: { type: 'string' }, force: { type: 'boolean' } });
  const file = values.config ?? process.env['PIGEON_CONFIG'] ?? 'pigeon.toml';
  if (existsSync(file) && !values.force) throw new UsageError(`${file} exists; use --force to overwrite`);
  writeFileSync(file, configTemplate(values.hostname ? { hostname: values.hostname } : {}), { mode: 0o640 });
  loadConfig(file); // the template must itself be valid
  out(`wrote ${file}; start with: pigeon serve --config ${file}`);
  return 0;
}

async function serveCommand(argv: string[]): Promise<number> {
  const { values } = args(argv, {});
  const { runServer } = await import('../main.js');
  return runServer(config(values.config));
}

/** `pigeon migrate-store --to URL`: the configured SQLite store into an empty PostgreSQL database (docs/scaling.md). */
async function migrateStoreCommand(argv: string[]): Promise<number> {
  const { values } = args(argv, { to: { type: 'string' } });
  const cfg = config(values.config);
  if (!values.to || !/^postgres(ql)?:\/\//.test(values.to)) throw new UsageError('usage: pigeon migrate-store --to postgres://user@host:5432/database');
  if (cfg.store.driver !== 'sqlite') throw new UsageError('migrate-store copies an SQLite store; this configuration already uses ' + cfg.store.driver);
  const file = cfg.store.url !== '' ? cfg.store.url.replace(/^sqlite:(\/\/)?/, '') : join(cfg.data_dir, 'pigeon.db');
  if (!existsSync(file)) throw new UsageError(`no SQLite store at ${file}`);
  const { copySqliteToPostgres } = await import('../store/postgres/from-sqlite.js');
  const report = await copySqliteToPostgres(file, values.to);
  out(table(report.tables.map((t) => [t.table, String(t.rows)]), ['TABLE', 'ROWS']));
  out(`copied ${file} into ${values.to.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}; now set [store] driver = "postgres" and url in the config`);
  return 0;
}

const commands: Record<string, (argv: string[]) => Promise<number>> = {
  serve: serveCommand,
  init: initCommand,
  domain: domainCommand,
  user: userCommand,
  alias: aliasCommand,
  network: networkCommand,
  push: pushCommand,
  deliver: deliverCommand,
  check: checkCommand,
  // Loaded on use: the queue and DKIM code pulls in the SMTP client and mailauth.
  queue: async (argv) => (await import('./queue.js')).queueCommand(argv),
  dkim: async (argv) => (await import('./queue.js')).dkimCommand(argv),
  'migrate-store': migrateStoreCommand,
};

/** Runs the command; resolves to the process exit code. Never throws. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    out(USAGE);
    return name ? 0 : 64;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`pigeon: unknown command ${JSON.stringify(name)}; see pigeon --help\n`);
    return 64;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(USAGE);
    return 0;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof ConfigError) process.stderr.write(`pigeon: ${err.message}\n`);
    else if (err instanceof UsageError || err instanceof InvalidInput || err instanceof Refused) process.stderr.write(`pigeon: ${err.message}\n`);
    else process.stderr.write(`pigeon: ${errorMessage(err)}\n`);
    return err instanceof UsageError ? 64 : err instanceof ConfigError ? 78 : 1;
  }
}
