// `pigeon queue list|show|retry|remove|flush` and `pigeon dkim generate|show|list|remove`: the
// operator's view of the outbound queue (queue/operations.ts) and the DKIM keys (queue/dkim.ts).
// They work while the server runs; a running worker picks up retry/flush at its next look at the
// queue (within [queue] poll, 30 s).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig, configPath } from '../config/load.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/store.js';
import { errorMessage } from '../shared/errors.js';
import { queueOps, type QueueEntry } from '../queue/operations.js';
import { dkimRecord, generateDkimKey } from '../queue/dkim.js';
import { UsageError, table } from './args.js';

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') || text === '' ? text : text + '\n');
}

const common = { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } } as const;

function parse<T extends ParseArgsConfig['options']>(argv: string[], extra: T) {
  try {
    return parseArgs({ args: argv, options: { ...common, ...extra }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

async function withStore<T>(file: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const cfg = loadConfig(configPath(file));
  const store = await openStore({ driver: cfg.store.driver as 'sqlite' | 'postgres', url: cfg.store.url, dataDir: cfg.data_dir });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function queueId(text: string | undefined, usage: string): number {
  if (text === undefined || !/^\d{1,15}$/.test(text)) throw new UsageError(`usage: pigeon queue ${usage}`);
  return Number(text);
}

const iso = (ms: number) => new Date(ms).toISOString();

function entryJson(e: QueueEntry) {
  return {
    id: e.id, sender: e.sender, size: e.size, createdAt: iso(e.createdAt), dsnRet: e.dsnRet, dsnEnvid: e.dsnEnvid, accountId: e.accountId,
    recipients: e.recipients.map((r) => ({
      address: r.address, state: r.state, attempts: r.attempts, nextAttemptAt: iso(r.nextAttemptAt), lastError: r.lastError,
      statusCode: r.statusCode, remoteMta: r.remoteMta, notify: r.notify, orcpt: r.orcpt,
    })),
  };
}

export async function queueCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {});
  const [verb, id] = positionals;
  return withStore(values.config, async (store) => {
    const ops = queueOps(store);
    switch (verb) {
      case 'list': {
        const entries = await ops.list();
        if (values.json) out(JSON.stringify(entries.map(entryJson)));
        else {
          const rows = entries.flatMap((e) => e.recipients.map((r) => [String(e.id), e.sender || '<>', r.address, r.state, String(r.attempts), r.state === 'deferred' || r.state === 'queued' ? iso(r.nextAttemptAt) : '', (r.lastError ?? '').slice(0, 60)]));
          out(rows.length === 0 ? 'the queue is empty' : table(rows, ['ID', 'SENDER', 'RECIPIENT', 'STATE', 'TRIES', 'NEXT', 'LAST ERROR']));
        }
        return 0;
      }
      case 'show': {
        const e = await ops.show(queueId(id, 'show ID'));
        if (values.json) out(JSON.stringify({ ...entryJson(e), message: e.raw.toString('utf8') }));
        else {
          const head = e.raw.subarray(0, Math.max(0, e.raw.indexOf('\r\n\r\n'))).toString('utf8');
          out([`queue id ${e.id}, from <${e.sender}>, ${e.size} bytes, queued ${iso(e.createdAt)}`, '',
            table(e.recipients.map((r) => [r.address, r.state, String(r.attempts), r.statusCode ?? '', r.remoteMta ?? '', r.lastError ?? '']), ['RECIPIENT', 'STATE', 'TRIES', 'STATUS', 'REMOTE', 'LAST ERROR']),
            head].join('\n'));
        }
        return 0;
      }
      case 'retry': {
        const n = await ops.retry(queueId(id, 'retry ID'));
        out(values.json ? JSON.stringify({ id: Number(id), recipients: n }) : `queue id ${id}: ${n} recipient(s) due now`);
        return 0;
      }
      case 'remove':
        await ops.remove(queueId(id, 'remove ID'));
        out(values.json ? JSON.stringify({ id: Number(id), removed: true }) : `queue id ${id} removed (no bounce sent)`);
        return 0;
      case 'flush': {
        const n = await ops.flush();
        out(values.json ? JSON.stringify({ recipients: n }) : `${n} recipient(s) due now`);
        return 0;
      }
      default:
        throw new UsageError('usage: pigeon queue list|show ID|retry ID|remove ID|flush [--json]');
    }
  });
}

export async function dkimCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { selector: { type: 'string' } } as const);
  const [verb, domain] = positionals;
  return withStore(values.config, async (store) => {
    switch (verb) {
      case 'generate': {
        if (!domain) throw new UsageError('usage: pigeon dkim generate DOMAIN [--selector S]');
        const key = await generateDkimKey(store, domain, values.selector ? { selector: values.selector } : {});
        const record = dkimRecord(key);
        if (values.json) out(JSON.stringify({ domain: key.domain, selector: key.selector, record }));
        else out(`DKIM key for ${key.domain} made (selector ${key.selector}); mail from ${key.domain} is signed from now on.\nPublish this DNS record:\n\n${record.name}. IN TXT ${txtValue(record.value)}`);
        return 0;
      }
      case 'show': {
        if (!domain) throw new UsageError('usage: pigeon dkim show DOMAIN');
        const key = await store.queue.getDkimKey(domain);
        if (!key) throw new UsageError(`no DKIM key for ${domain}; make one with: pigeon dkim generate ${domain}`);
        const record = dkimRecord(key);
        out(values.json ? JSON.stringify({ domain: key.domain, selector: key.selector, record }) : `${record.name}. IN TXT ${txtValue(record.value)}`);
        return 0;
      }
      case 'list': {
        const keys = await store.queue.listDkimKeys();
        if (values.json) out(JSON.stringify(keys.map((k) => ({ domain: k.domain, selector: k.selector, createdAt: iso(k.createdAt), record: dkimRecord(k) }))));
        else out(table(keys.map((k) => [k.domain, k.selector, iso(k.createdAt)]), ['DOMAIN', 'SELECTOR', 'CREATED']));
        return 0;
      }
      case 'remove':
        if (!domain) throw new UsageError('usage: pigeon dkim remove DOMAIN');
        await store.queue.removeDkimKey(domain);
        out(`DKIM key of ${domain} removed; its mail goes out unsigned`);
        return 0;
      default:
        throw new UsageError('usage: pigeon dkim generate DOMAIN [--selector S] | show DOMAIN | list | remove DOMAIN');
    }
  });
}

/** A TXT value as zone-file strings of at most 255 characters (RFC 1035 §3.3.14). */
function txtValue(value: string): string {
  const parts: string[] = [];
  for (let i = 0; i < value.length; i += 255) parts.push(`"${value.slice(i, i + 255)}"`);
  return parts.length > 1 ? `( ${parts.join(' ')} )` : parts[0]!;
}
