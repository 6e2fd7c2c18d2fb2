// The shape of a command handler (STYLE.md "A command handler"): the names it serves, the states
// in which it is legal (checked once, in dispatch.ts), and run(). Kept apart from dispatch.ts so
// handlers and the registry do not import each other in a cycle.
import type { Command, CommandName, ResponseCode } from '../wire/types.js';
import type { Session, SessionState } from './session.js';

/** What a handler returns: the text (and code) of its tagged OK, and work to do after it. */
export interface Completion {
  text?: string;
  code?: ResponseCode;
  /** Runs after the tagged OK is written (STARTTLS's handshake). */
  after?: () => Promise<void>;
  /** Skip the update flush before the completion (the handler sent what it must). */
  noUpdates?: boolean;
}

/** The command variant(s) carrying name N (also where one variant has several names, e.g. DELETE). */
export type CommandFor<N extends CommandName> = Command extends infer C ? (C extends { name: infer M } ? (N extends M ? C : never) : never) : never;

export interface CommandHandler<N extends CommandName = CommandName> {
  names: readonly N[];
  /** States in which the command is legal (RFC 9051 §6). */
  states: readonly SessionState[];
  run(session: Session, command: CommandFor<N>): Promise<Completion | void>;
}

/** Define a handler with its command type inferred from its names. */
export function defineCommand<N extends CommandName>(handler: CommandHandler<N>): CommandHandler<N> {
  return handler;
}

const ANY: readonly SessionState[] = ['not-authenticated', 'authenticated', 'selected'];
export const states = {
  any: ANY,
  notAuthenticated: ['not-authenticated'] as const,
  authenticated: ['authenticated', 'selected'] as const,
  selected: ['selected'] as const,
};

