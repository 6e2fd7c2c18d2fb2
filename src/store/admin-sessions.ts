// The admin-session sub-store: signed-in console/API sessions. Reached as `Store.adminSessions`;
// the SQL lives in sqlite/admin-sessions.ts (later postgres/admin-sessions.ts), the HTTP side in
// http/session.ts.
//
// Invariants:
// - Only the SHA-256 (hex) of a session token is stored; the token itself is only in the cookie.
// - A session belongs to an account and ends with it (ON DELETE CASCADE).
// - A session is valid while now < expiresAt; `touch` moves expiresAt forward (idle expiry).

export interface AdminSession {
  /** SHA-256 hex of the cookie token. */
  tokenHash: string;
  accountId: number;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  /** Client address at sign-in (shown to the admin, never used for decisions). */
  remoteAddress: string;
  userAgent: string;
}

export interface AdminSessionStore {
  create(session: AdminSession): Promise<void>;
  /** The session when it exists and has not expired at `now`. */
  get(tokenHash: string, now: number): Promise<AdminSession | undefined>;
  /** Record activity: lastSeenAt = now, expiresAt = the new idle expiry. */
  touch(tokenHash: string, now: number, expiresAt: number): Promise<void>;
  delete(tokenHash: string): Promise<void>;
  /** Deletes every session of an account (password or admin rights changed); returns how many. */
  deleteForAccount(accountId: number): Promise<number>;
  /** Deletes expired sessions; returns how many. */
  deleteExpired(now: number): Promise<number>;
}
