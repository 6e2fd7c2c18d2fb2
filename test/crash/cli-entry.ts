// The `pigeon` command for child-process tests, runnable from source (node --import tsx) or
// compiled (dist/test/crash/cli-entry.js), so they do not depend on a fresh dist/ build.
import { main } from '../../src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`pigeon: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
