// What every protocol's start…Server(deps) returns to main.ts.

export interface ListeningOn {
  /** The config key under [listen] ("imap", "imaps", "smtp", …). */
  listener: string;
  host: string;
  port: number;
  /** "plain" (STARTTLS offered where the protocol has it) or "tls" (implicit TLS). */
  security: 'plain' | 'tls';
}

export interface RunningService {
  readonly name: string;
  readonly listening: ListeningOn[];
  /** Stop accepting; let commands in flight finish (up to timeoutMs), say goodbye, close. */
  close(options?: { timeoutMs?: number }): Promise<void>;
}
