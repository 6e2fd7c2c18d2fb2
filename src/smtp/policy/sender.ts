// MAIL FROM rules for authenticated sessions, pure: an account may use its own address and the
// aliases that deliver to it, when its domain's enforceSender setting is on (DomainSettings).

export interface SenderFacts {
  /** The domain setting of the authenticated account's domain. */
  enforce: boolean;
  /** Lower-case address of the authenticated account. */
  accountEmail: string;
  /** The MAIL FROM address, lower-cased; null for the null sender "<>". */
  sender: string | null;
  /** Targets of the alias with exactly the sender's address, or null when there is none. */
  aliasTargets: string[] | null;
  /** Targets of the sender domain's catch-all ("@domain"), or null. */
  catchAllTargets: string[] | null;
  /** Another account has exactly the sender's address. */
  senderIsAnotherAccount: boolean;
}

export function senderAllowed(f: SenderFacts): boolean {
  if (!f.enforce) return true;
  // The null sender carries no identity to forge (bounces, receipts).
  if (f.sender === null) return true;
  const me = f.accountEmail.toLowerCase();
  if (f.sender === me) return true;
  if (f.senderIsAnotherAccount) return false;
  const targets = (list: string[] | null) => (list ?? []).some((t) => t.toLowerCase() === me);
  if (f.aliasTargets !== null) return targets(f.aliasTargets);
  return targets(f.catchAllTargets);
}
