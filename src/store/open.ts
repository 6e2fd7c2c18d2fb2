// Opens the configured store engine. The composition root (main.ts) and the CLI call this; nothing
// else picks an engine.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import { ConfigError } from '../shared/errors.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  driver: 'sqlite' | 'postgres';
  /** sqlite: the database file ('' = dataDir/pigeon.db); postgres: a connection URL. */
  url: string;
  dataDir: string;
  logger?: Logger;
  /** The serving process listens for other processes' change notifications (sqlite: dataDir/feed.sock;
   *  postgres: LISTEN pigeon_changes). */
  listen?: boolean;
  clock?: Clock;
}

export async function openStore(options: OpenStoreOptions): Promise<Store> {
  if (options.driver === 'postgres') {
    if (!/^postgres(ql)?:\/\//.test(options.url ?? '')) throw new ConfigError(['store.url'], 'store.driver = "postgres" needs store.url = "postgres://user@host:5432/database"');
    // Each engine is loaded only when chosen: a CLI call on SQLite need not load the PostgreSQL client.
    const { PostgresStore } = await import('./postgres/postgres-store.js');
    return PostgresStore.open({
      url: options.url,
      listen: options.listen ?? false,
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }
  if (options.driver !== 'sqlite') throw new ConfigError(['store.driver'], `unknown store.driver ${JSON.stringify(options.driver)}`);
  fs.mkdirSync(options.dataDir, { recursive: true });
  const file = options.url && options.url !== '' ? options.url.replace(/^sqlite:(\/\/)?/, '') : path.join(options.dataDir, 'pigeon.db');
  const { SqliteStore } = await import('./sqlite/sqlite-store.js');
  return SqliteStore.open({
    file,
    dataDir: options.dataDir,
    listen: options.listen ?? false,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
}
