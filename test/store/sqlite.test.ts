// Runs the store conformance suite on the SQLite engine.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { runStoreConformance } from '../../src/store/conformance/suite.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';

runStoreConformance('sqlite', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const opened: Store[] = [];
  const open = async (listen: boolean) => {
    const s = await openStore({ driver: 'sqlite', url: '', dataDir: dir, listen });
    opened.push(s);
    return s;
  };
  const store = await open(true);
  return {
    store,
    reopen: () => open(false),
    async cleanup() {
      for (const s of opened) await s.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async corrupt(kind) {
      const db = new BetterSqlite3(path.join(dir, 'pigeon.db'));
      try {
        if (kind === 'uid-next') db.prepare('UPDATE mailboxes SET uid_next = 1 WHERE id = (SELECT mailbox_id FROM messages LIMIT 1)').run();
      } finally {
        db.close();
      }
    },
  };
});
