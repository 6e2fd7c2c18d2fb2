#!/usr/bin/env node
// The `pigeon` command: runs the compiled CLI (built by `npm install` through `prepare`).
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { console.error(`pigeon: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 1; },
);
