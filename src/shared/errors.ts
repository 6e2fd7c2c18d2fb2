// Error classes shared by every layer. Protocols map them to the wire in one place each:
// BadCommand → IMAP BAD / SMTP 5xx syntax, Refused → NO (with an optional response code) / 4xx-5xx,
// anything else → a server bug, whose text is logged but never shown to the client.

/** The client sent something malformed or not allowed in this state. */
export class BadCommand extends Error {
  override name = 'BadCommand';
}

/** Response codes a refusal may carry (IMAP names; other protocols map them). */
export type RefusalCode =
  | 'NONEXISTENT'
  | 'ALREADYEXISTS'
  | 'OVERQUOTA'
  | 'TRYCREATE'
  | 'CANNOT'
  | 'INUSE'
  | 'LIMIT'
  | 'AUTHENTICATIONFAILED'
  | 'AUTHORIZATIONFAILED'
  | 'UNAVAILABLE'
  | 'PRIVACYREQUIRED'
  | 'NOPERM'
  | 'TOOBIG'
  | 'EXPUNGEISSUED'
  | 'CLIENTBUG'
  | 'UNKNOWN-CTE'
  | 'BADCHARSET'
  | 'CONTACTADMIN'
  | 'BADEVENT'
  | 'BADURL'
  | 'USEATTR'
  | 'METADATA'
  | 'MODIFIED'
  | 'HASCHILDREN'
  | 'COMPRESSIONACTIVE';

/** A well-formed request that cannot be honoured (unknown mailbox, quota, duplicate…). */
export class Refused extends Error {
  override name = 'Refused';
  readonly code: RefusalCode | undefined;
  constructor(message: string, code?: RefusalCode) {
    super(message);
    this.code = code;
  }
}

/** Configuration that cannot be used; the message names the key to change. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string[], message?: string) {
    super(message ?? problems.join('\n'));
    this.problems = problems;
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
