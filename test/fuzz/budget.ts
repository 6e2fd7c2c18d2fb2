// Time and seed budget shared by the fuzz properties. Inside `npm test` every property runs a
// fixed number of inputs from a fixed seed, interrupted after a few seconds at most, so a run is
// reproducible and fast. `npm run fuzz` (scripts/fuzz.js) sets FUZZ_SECONDS (per property) and
// FUZZ_SEED to run each property longer from another seed; a failure prints the seed and path
// to replay it (fast-check's report), and each finding becomes a regression test.
import assert from 'node:assert/strict';
import fc from 'fast-check';

const seconds = Number(process.env['FUZZ_SECONDS'] ?? '0');
const seedText = process.env['FUZZ_SEED'];

/** Seed of this run: FUZZ_SEED, else a fixed one (npm test is deterministic). */
export const fuzzSeed = seedText !== undefined && /^-?\d+$/.test(seedText) ? Number(seedText) : 20_261_123;
/** True under `npm run fuzz`. */
export const longRun = Number.isFinite(seconds) && seconds > 0;

/**
 * Run a property within the budget: `runs` inputs (or FUZZ_SECONDS of them under `npm run fuzz`),
 * never longer than `maxMs` in `npm test`. Fails with fast-check's report (seed, path, the
 * shrunk counterexample). Returns how many inputs were tried.
 */
export function runProperty<T>(property: fc.IProperty<T>, options: { runs: number; maxMs?: number }): number {
  const limitMs = longRun ? seconds * 1000 : (options.maxMs ?? 4000);
  const details = fc.check(property, {
    seed: fuzzSeed,
    numRuns: longRun ? 1_000_000_000 : options.runs,
    interruptAfterTimeLimit: limitMs,
    markInterruptAsFailure: false,
  });
  if (details.failed) assert.fail(fc.defaultReportMessage(details) ?? 'property failed');
  if (longRun) process.stdout.write(`fuzz: ${details.numRuns} inputs tried (seed ${fuzzSeed})\n`);
  return details.numRuns;
}

/** Split `bytes` at the given cut points (chunked feeding of a stream parser). */
export function chunked(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (bytes.length === 0 ? 0 : c % (bytes.length + 1))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let last = 0;
  for (const p of points) {
    if (p > last) out.push(bytes.subarray(last, p));
    last = Math.max(last, p);
  }
  if (last < bytes.length) out.push(bytes.subarray(last));
  return out;
}

/** Apply byte-level mutations (insert / delete / replace with hostile tokens) to a valid input. */
export function mutationArb(seeds: readonly string[], tokens: readonly string[]): fc.Arbitrary<Buffer> {
  const edit = fc.record({
    at: fc.nat(),
    op: fc.constantFrom('insert', 'delete', 'replace', 'byte'),
    token: fc.constantFrom(...tokens),
    byte: fc.integer({ min: 0, max: 255 }),
    len: fc.integer({ min: 1, max: 8 }),
  });
  return fc.tuple(fc.constantFrom(...seeds), fc.array(edit, { maxLength: 6 })).map(([seed, edits]) => {
    let b = Buffer.from(seed, 'latin1');
    for (const e of edits) {
      const at = b.length === 0 ? 0 : e.at % (b.length + 1);
      const token = Buffer.from(e.token, 'latin1');
      if (e.op === 'insert') b = Buffer.concat([b.subarray(0, at), token, b.subarray(at)]);
      else if (e.op === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + e.len)]);
      else if (e.op === 'replace') b = Buffer.concat([b.subarray(0, at), token, b.subarray(at + e.len)]);
      else b = Buffer.concat([b.subarray(0, at), Buffer.from([e.byte]), b.subarray(at + 1)]);
    }
    return b;
  });
}
