// Runs the store conformance suite on the PostgreSQL engine, each test on a fresh database
// (skipped with one line when PostgreSQL is unreachable outside CI; see test/harness/engines.ts).
import { test } from 'node:test';
import pg from 'pg';
import { runStoreConformance } from '../../src/store/conformance/suite.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase, hasPostgres } from '../harness/engines.js';

if (!hasPostgres) {
  test('store conformance: postgres', { skip: 'PostgreSQL not reachable' }, () => undefined);
} else {
  runStoreConformance('postgres', async () => {
    const db = await createTestDatabase();
    const opened: Store[] = [];
    const open = async (listen: boolean) => {
      const s = await openStore({ driver: 'postgres', url: db.url, dataDir: '/nonexistent', listen });
      opened.push(s);
      return s;
    };
    const store = await open(true);
    return {
      store,
      reopen: () => open(false),
      async cleanup() {
        for (const s of opened) await s.close();
        await db.drop();
      },
      async corrupt(kind) {
        const c = new pg.Client({ connectionString: db.url });
        await c.connect();
        try {
          if (kind === 'uid-next') await c.query('UPDATE mailboxes SET uid_next = 1 WHERE id = (SELECT mailbox_id FROM messages LIMIT 1)');
        } finally {
          await c.end();
        }
      },
    };
  });
}
