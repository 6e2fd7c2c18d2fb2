#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with Node's test runner, then runs the
// POP3 and SMTP protocol suites a second time on PostgreSQL (PIGEON_TEST_STORE=postgres); the
// IMAP transcripts and the store conformance suite already run on both engines inside their files.
// PostgreSQL is required with CI=true; elsewhere an unreachable server skips the second pass with
// one line. Extra arguments filter by substring of the file path: `npm test -- imap`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative, basename } from 'node:path';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** Failed tests seen so far ("not ok" lines of the TAP stream), printed again at the very end. */
const failures = [];

function run(files, env = process.env, label = 'SQLite') {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-reporter=tap', '--test-concurrency=2', '--test-timeout=180000', ...files], { stdio: ['ignore', 'pipe', 'inherit'], env });
    let partial = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const text = partial + chunk.toString('utf8');
      const lines = text.split('\n');
      partial = lines.pop();
      for (const line of lines) if (/^\s*not ok \d+ - /.test(line) && !/# (TODO|SKIP)\b/.test(line)) failures.push(`[${label}] ${line.trim()}`);
    });
    child.on('close', (code) => resolve(code ?? 1));
  });
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
let status = await run(files);

// Pure parser/policy tables touch no store: once is enough.
const storeFree = new Set(['wire.test.js', 'policy.test.js', 'commit-pacer.test.js']);
const protocol = files.filter((f) => /^(pop3|smtp)[/\\]/.test(relative('dist/test', f)) && !storeFree.has(basename(f)));
if (protocol.length > 0 && process.env['PIGEON_TEST_STORE'] === undefined) {
  const url = process.env['PIGEON_TEST_POSTGRES'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  if (process.env['CI'] === 'true' || (await reachable(url))) {
    console.log(`\n# POP3 and SMTP suites again on PostgreSQL (${protocol.length} files)`);
    status = (await run(protocol, { ...process.env, PIGEON_TEST_STORE: 'postgres' }, 'PostgreSQL')) || status;
  } else {
    console.error('postgres tests skipped: cannot reach the PostgreSQL server (set PIGEON_TEST_POSTGRES=postgres://… or start PostgreSQL)');
  }
}
// The failures again, last, so that the tail of a long log says what failed.
if (failures.length > 0) {
  console.log(`\n# ${failures.length} failed (suites and the tests in them):`);
  for (const f of failures) console.log(`#   ${f}`);
}
process.exit(status);
