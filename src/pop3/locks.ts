// The maildrop lock of RFC 1939 §4 ("the POP3 server then acquires an exclusive-access lock on the
// maildrop"): one POP3 session per account at a time, others get `-ERR [IN-USE]` (RFC 2449 §8.1).
// In-process only: several Pigeon nodes sharing one database do not see each other's locks yet
// (a multi-node lock in the store is a later issue).

export class MaildropLocks {
  #held = new Set<number>();

  /** Lock an account's maildrop; returns the release function, or null when another session holds it. */
  tryAcquire(accountId: number): (() => void) | null {
    if (this.#held.has(accountId)) return null;
    this.#held.add(accountId);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#held.delete(accountId);
    };
  }

  isLocked(accountId: number): boolean {
    return this.#held.has(accountId);
  }
}
