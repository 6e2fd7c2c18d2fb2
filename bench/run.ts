// `npm run bench`: runs every benchmark in bench/ (compiled to dist/bench/) one after the other,
// each in its own process so one's connections and memory do not skew the next.
// Benchmarks print their numbers; they do not pass or fail. `npm run bench -- smtp` runs one.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// `--store postgres` (or --store=postgres) goes to every benchmark; other words filter by name.
const args = process.argv.slice(2);
const passThrough: string[] = [];
const filters: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === '--store' && i + 1 < args.length) passThrough.push(a, args[++i]!);
  else if (a.startsWith('--')) passThrough.push(a);
  else filters.push(a);
}
const files = readdirSync(here)
  .filter((f) => f.endsWith('.js') && f !== 'run.js' && !f.startsWith('_'))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f.replace(/\.js$/, '')} ===`);
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, f), ...passThrough], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed === 0 ? 0 : 1);
