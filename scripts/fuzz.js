#!/usr/bin/env node
// `npm run fuzz`: the fuzz properties of test/fuzz/ run longer than in `npm test`.
//   FUZZ_SECONDS  time per property (default 60)
//   FUZZ_SEED     seed (default: a new random one, printed so a finding can be replayed)
// Extra arguments filter the files by substring: `npm run fuzz -- imap`.
// Each property prints how many inputs it tried; a failure prints fast-check's report (seed,
// path, shrunk counterexample), which becomes a regression test in test/fuzz/.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const seconds = Number(process.env.FUZZ_SECONDS ?? '60');
if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 24 * 3600) {
  console.error('FUZZ_SECONDS must be a number of seconds (1 .. 86400)');
  process.exit(2);
}
const seed = process.env.FUZZ_SEED ?? String(Math.floor(Math.random() * 2 ** 31));
const filters = process.argv.slice(2);
const files = readdirSync('test/fuzz')
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
  .map((f) => join('test/fuzz', f));
if (files.length === 0) {
  console.error('no fuzz files matched');
  process.exit(1);
}
console.log(`fuzz: ${files.length} files, ${seconds} s per property, seed ${seed} (replay with FUZZ_SEED=${seed})`);
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', `--test-timeout=${(seconds * 20 + 120) * 1000}`, ...files], {
  stdio: 'inherit',
  env: { ...process.env, FUZZ_SECONDS: String(seconds), FUZZ_SEED: seed },
});
console.log(`fuzz: done (seed ${seed}), exit ${result.status}`);
process.exit(result.status ?? 1);
