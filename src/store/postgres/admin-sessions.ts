// The admin-session sub-store on PostgreSQL (see ../admin-sessions.ts for the contract). It shares
// the main store's pool; each statement is its own small autocommit transaction, so any node can
// check a session another node created.
import type pg from 'pg';
import { BadCommand } from '../../shared/errors.js';
import type { AdminSession, AdminSessionStore } from '../admin-sessions.js';
import { row, run } from './pool.js';

interface SessionRow { token_hash: string; account_id: number; created_at: number; last_seen_at: number; expires_at: number; remote_address: string; user_agent: string }

const toSession = (r: SessionRow): AdminSession => ({
  tokenHash: r.token_hash, accountId: r.account_id, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at,
  remoteAddress: r.remote_address, userAgent: r.user_agent,
});

function checkHash(hash: string): void {
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) throw new BadCommand('a session token hash is 64 hex digits');
}

export class PostgresAdminSessionStore implements AdminSessionStore {
  #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async create(s: AdminSession): Promise<void> {
    checkHash(s.tokenHash);
    await run(this.#pool, 'INSERT INTO admin_sessions (token_hash, account_id, created_at, last_seen_at, expires_at, remote_address, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [s.tokenHash, s.accountId, s.createdAt, s.lastSeenAt, s.expiresAt, s.remoteAddress.slice(0, 100), s.userAgent.slice(0, 300)]);
  }

  async get(tokenHash: string, now: number): Promise<AdminSession | undefined> {
    if (typeof tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(tokenHash)) return undefined;
    const r = await row<SessionRow>(this.#pool, 'SELECT * FROM admin_sessions WHERE token_hash = $1 AND expires_at > $2', [tokenHash, now]);
    return r && toSession(r);
  }

  async touch(tokenHash: string, now: number, expiresAt: number): Promise<void> {
    checkHash(tokenHash);
    await run(this.#pool, 'UPDATE admin_sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3', [now, expiresAt, tokenHash]);
  }

  async delete(tokenHash: string): Promise<void> {
    checkHash(tokenHash);
    await run(this.#pool, 'DELETE FROM admin_sessions WHERE token_hash = $1', [tokenHash]);
  }

  async deleteForAccount(accountId: number): Promise<number> {
    return run(this.#pool, 'DELETE FROM admin_sessions WHERE account_id = $1', [accountId]);
  }

  async deleteExpired(now: number): Promise<number> {
    return run(this.#pool, 'DELETE FROM admin_sessions WHERE expires_at <= $1', [now]);
  }
}
