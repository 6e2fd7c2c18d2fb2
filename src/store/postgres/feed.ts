// Cross-node wake-ups for the PostgreSQL engine: LISTEN/NOTIFY on channel `pigeon_changes`.
//
// - Every write transaction that produces changes sends, inside the transaction, one
//   `pg_notify('pigeon_changes', payload)` per group of at most `maxPerPayload` mailboxes;
//   PostgreSQL delivers notifications only at COMMIT (and drops them on ROLLBACK), so a node never
//   wakes for data it cannot read yet. Payload: {"n": nodeId, "e": [[accountId, mailboxId, kind], …]}
//   — small wake-ups, far below PostgreSQL's 8000-byte payload limit.
// - A serving node keeps one dedicated connection in LISTEN and republishes each received entry on
//   its local ChangeFeed as {kind: 'mailbox-changed'}; readers then read the journal (changes.ts).
//   Entries tagged with the node's own id are skipped: they were published locally, in full, after
//   the commit.
// - The listening connection reconnects on error with backoff (100 ms doubling to 5 s).
//   Notifications sent while it was down are lost: correctness never depends on one (sessions read
//   the journal on their next command), only promptness does.
// Bounds: a payload over 8000 bytes or with more than `maxPerPayload` entries is dropped and logged.
import type pg from 'pg';
import type { Change } from '../changes.js';
import type { Logger } from '../../shared/logger.js';
import { createClient } from './pool.js';

export const feedChannel = 'pigeon_changes';
const maxPerPayload = 100;
const maxPayloadBytes = 8000;

export interface RemoteChange {
  accountId: number;
  mailboxId: number;
  kind: Change['kind'];
}

/** The NOTIFY payloads for these changes (deduplicated by account, mailbox and kind). */
export function notifyPayloads(nodeId: string, changes: readonly Change[]): string[] {
  const seen = new Set<string>();
  const entries: Array<[number, number, string]> = [];
  for (const c of changes) {
    const key = `${c.accountId}:${c.mailboxId}:${c.kind}`;
    if (seen.has(key)) continue;
    seen.add(key);
    entries.push([c.accountId, c.mailboxId, c.kind]);
  }
  const out: string[] = [];
  for (let i = 0; i < entries.length; i += maxPerPayload) out.push(JSON.stringify({ n: nodeId, e: entries.slice(i, i + maxPerPayload) }));
  return out;
}

export function parsePayload(payload: string): { node: string; entries: RemoteChange[] } | undefined {
  if (payload.length > maxPayloadBytes) return undefined;
  let data: unknown;
  try {
    data = JSON.parse(payload);
  } catch {
    return undefined;
  }
  const d = data as { n?: unknown; e?: unknown } | null;
  if (typeof d?.n !== 'string' || !Array.isArray(d.e) || d.e.length > maxPerPayload) return undefined;
  const entries: RemoteChange[] = [];
  for (const e of d.e as unknown[]) {
    if (!Array.isArray(e) || e.length !== 3 || !Number.isSafeInteger(e[0]) || !Number.isSafeInteger(e[1]) || typeof e[2] !== 'string') return undefined;
    entries.push({ accountId: e[0] as number, mailboxId: e[1] as number, kind: e[2] as Change['kind'] });
  }
  return { node: d.n, entries };
}

export class FeedListener {
  #url: string;
  #nodeId: string;
  #onChange: (entries: RemoteChange[]) => void;
  #logger: Logger;
  #client: pg.Client | undefined;
  #closed = false;
  #delay = 100;
  #timer: NodeJS.Timeout | undefined;
  #ready: Promise<void>;
  #connected = false;

  private constructor(url: string, nodeId: string, onChange: (entries: RemoteChange[]) => void, logger: Logger) {
    this.#url = url;
    this.#nodeId = nodeId;
    this.#onChange = onChange;
    this.#logger = logger;
    this.#ready = this.#connect();
  }

  /** Starts listening; resolves once LISTEN is in effect (or rejects when the first connect fails). */
  static async start(url: string, options: { nodeId: string; onChange: (entries: RemoteChange[]) => void; logger: Logger }): Promise<FeedListener> {
    const l = new FeedListener(url, options.nodeId, options.onChange, options.logger);
    await l.#ready;
    return l;
  }

  get connected(): boolean {
    return this.#connected;
  }

  async #connect(): Promise<void> {
    const client = createClient(this.#url);
    this.#client = client;
    client.on('notification', (msg) => {
      if (msg.channel !== feedChannel || msg.payload === undefined) return;
      const p = parsePayload(msg.payload);
      if (!p) {
        this.#logger.warn('malformed store change notification dropped');
        return;
      }
      if (p.node === this.#nodeId) return;
      this.#onChange(p.entries);
    });
    client.on('error', (err) => {
      this.#logger.warn({ err }, 'store change listener connection lost; reconnecting');
      this.#retry(client);
    });
    client.on('end', () => this.#retry(client));
    await client.connect();
    await client.query(`LISTEN ${feedChannel}`);
    this.#connected = true;
    this.#delay = 100;
  }

  #retry(client: pg.Client): void {
    if (this.#closed || this.#client !== client || this.#timer) return;
    this.#connected = false;
    this.#client = undefined;
    client.end().catch(() => undefined);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#closed) return;
      this.#connect().catch((err: unknown) => {
        this.#logger.warn({ err }, 'store change listener cannot reconnect yet');
        const c = this.#client;
        if (c) this.#retry(c);
      });
    }, this.#delay);
    this.#delay = Math.min(this.#delay * 2, 5000);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    const c = this.#client;
    this.#client = undefined;
    this.#connected = false;
    await c?.end().catch(() => undefined);
  }
}
