// Nested structures whose ABNF puts lists side by side without a space (RFC 9051 §9:
// env-from = "(" 1*address ")", body-type-mpart = 1*body SP media-subtype; RFC 5256 §4:
// thread-nested = 2*thread-list) are built with `run` (the encoder writes a run's elements with no
// separator). Strings, literals and UTF-8 inside them still go through the encoder's rules.
import type { ImapValue } from '../wire/types.js';

export type Wire = ImapValue;

/** Elements written with no separator between them (inside a list). */
export function run(items: ImapValue[]): ImapValue {
  return { run: items };
}

/** The value handed to the encoder. */
export function finish(w: ImapValue): ImapValue {
  return w;
}

/** The structure with runs spliced into their lists, for tests that inspect it. */
export function structured(w: ImapValue): ImapValue {
  if (Array.isArray(w)) {
    const out: ImapValue[] = [];
    for (const item of w) {
      if (item !== null && typeof item === 'object' && !Array.isArray(item) && !Buffer.isBuffer(item) && 'run' in item) out.push(...item.run.map(structured));
      else out.push(structured(item));
    }
    return out;
  }
  if (w !== null && typeof w === 'object' && !Buffer.isBuffer(w) && 'run' in w) return w.run.map(structured);
  return w;
}
