#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner, then runs the
// POP3 and SMTP protocol suites a second time on PostgreSQL (PIGEON_TEST_STORE=postgres); the
// IMAP transcripts and the store conformance suite already run on both engines inside their files.
// PostgreSQL is required with CI=true; elsewhere an unreachable server skips the second pass with
// one line. Extra arguments filter by substring of the file path: `npm test -- imap`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, basename } from 'node:path';
import { spawnSync } from 'node:child_process';
import { connect } from 'node:net';

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

function run(files, env = process.env) {
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=180000', ...files], { stdio: 'inherit', env });
  return r.status ?? 1;
}

function reachable(url) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect({ host: u.hostname, port: Number(u.port || 5432) }, () => { s.destroy(); resolve(true); });
    s.setTimeout(3000, () => { s.destroy(); resolve(false); });
    s.on('error', () => resolve(false));
  });
}

const filters = process.argv.slice(2);
const all = walk('dist/test').sort();
const files = all.filter((f) => filters.length === 0 || filters.some((x) => relative('dist/test', f).includes(x)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
let status = run(files);

// Pure parser/policy tables touch no store: once is enough.
const storeFree = new Set(['wire.test.js', 'policy.test.js', 'commit-pacer.test.js']);
const protocol = files.filter((f) => /^(pop3|smtp)[/\\]/.test(relative('dist/test', f)) && !storeFree.has(basename(f)));
if (protocol.length > 0 && process.env['PIGEON_TEST_STORE'] === undefined) {
  const url = process.env['PIGEON_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (process.env['CI'] === 'true' || (await reachable(url))) {
    console.log(`\n# POP3 and SMTP suites again on PostgreSQL (${protocol.length} files)`);
    status = run(protocol, { ...process.env, PIGEON_TEST_STORE: 'postgres' }) || status;
  } else {
    console.error('postgres tests skipped: cannot reach the PostgreSQL server (set PIGEON_TEST_POSTGRES=postgres://… or start PostgreSQL)');
  }
}
process.exit(status);
