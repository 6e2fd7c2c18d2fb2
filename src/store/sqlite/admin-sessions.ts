// The admin-session sub-store on SQLite (see ../admin-sessions.ts for the contract). It shares the
// main store's better-sqlite3 handle; each statement is its own small autocommit transaction.
import type { Database, Statement } from 'better-sqlite3';
import { BadCommand } from '../../shared/errors.js';
import type { AdminSession, AdminSessionStore } from '../admin-sessions.js';

interface SessionRow { token_hash: string; account_id: number; created_at: number; last_seen_at: number; expires_at: number; remote_address: string; user_agent: string }

const toSession = (r: SessionRow): AdminSession => ({
  tokenHash: r.token_hash, accountId: r.account_id, createdAt: r.created_at, lastSeenAt: r.last_seen_at, expiresAt: r.expires_at,
  remoteAddress: r.remote_address, userAgent: r.user_agent,
});

function checkHash(hash: string): void {
  if (typeof hash !== 'string' || !/^[0-9a-f]{64}$/.test(hash)) throw new BadCommand('a session token hash is 64 hex digits');
}

export class SqliteAdminSessionStore implements AdminSessionStore {
  #db: Database;
  #stmts = new Map<string, Statement>();

  constructor(db: Database) {
    this.#db = db;
  }

  #stmt<R = unknown>(sql: string): Statement<unknown[], R> {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#db.prepare(sql)));
    return s as Statement<unknown[], R>;
  }

  async create(s: AdminSession): Promise<void> {
    checkHash(s.tokenHash);
    this.#stmt('INSERT INTO admin_sessions (token_hash, account_id, created_at, last_seen_at, expires_at, remote_address, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(s.tokenHash, s.accountId, s.createdAt, s.lastSeenAt, s.expiresAt, s.remoteAddress.slice(0, 100), s.userAgent.slice(0, 300));
  }

  async get(tokenHash: string, now: number): Promise<AdminSession | undefined> {
    if (typeof tokenHash !== 'string' || !/^[0-9a-f]{64}$/.test(tokenHash)) return undefined;
    const r = this.#stmt<SessionRow>('SELECT * FROM admin_sessions WHERE token_hash = ? AND expires_at > ?').get(tokenHash, now);
    return r && toSession(r);
  }

  async touch(tokenHash: string, now: number, expiresAt: number): Promise<void> {
    checkHash(tokenHash);
    this.#stmt('UPDATE admin_sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?').run(now, expiresAt, tokenHash);
  }

  async delete(tokenHash: string): Promise<void> {
    checkHash(tokenHash);
    this.#stmt('DELETE FROM admin_sessions WHERE token_hash = ?').run(tokenHash);
  }

  async deleteForAccount(accountId: number): Promise<number> {
    return this.#stmt('DELETE FROM admin_sessions WHERE account_id = ?').run(accountId).changes;
  }

  async deleteExpired(now: number): Promise<number> {
    return this.#stmt('DELETE FROM admin_sessions WHERE expires_at <= ?').run(now).changes;
  }
}
