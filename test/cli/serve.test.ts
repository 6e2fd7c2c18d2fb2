// `pigeon serve` as an administrator starts it: what it prints, a busy port, a clean stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { once } from 'node:events';

const bin = resolve('bin/pigeon.js');

function env(dir: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, PIGEON_DATA_DIR: join(dir, 'data'), PIGEON_HOSTNAME: 'mail.test.example', PIGEON_LOG_LEVEL: 'silent' };
  delete e['PIGEON_CONFIG'];
  for (const k of ['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAP', 'IMAPS', 'POP3', 'POP3S', 'HTTP', 'HTTPS']) e[`PIGEON_LISTEN_${k}`] = '127.0.0.1:0';
  return { ...e, ...extra };
}

test('serve prints what it listens on and how to add a first domain, makes a certificate, and stops on SIGTERM', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-serve-'));
  const child = spawn(process.execPath, [bin, 'serve'], { cwd: dir, env: env(dir, {}), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => { out += d; });
  while (!out.includes('npx pigeon user add')) {
    const [chunk] = (await Promise.race([once(child.stdout, 'data'), once(child, 'exit')])) as [unknown];
    if (chunk === null || typeof chunk === 'number') assert.fail(`exited early: ${out}`);
  }
  for (const listener of ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s']) {
    assert.match(out, new RegExp(`\\b${listener}\\s+127\\.0\\.0\\.1:\\d+ \\((TLS|STARTTLS)\\)`), listener);
  }
  assert.match(out, /certificate: self-signed for [^\n]*mail\.test\.example/);
  assert.ok(existsSync(join(dir, 'data', 'pigeon.db')));
  child.kill('SIGTERM');
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
});

test('a port that cannot be bound is one line naming the listener and the config key', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-serve-'));
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  const port = (blocker.address() as { port: number }).port;
  const r = spawnSync(process.execPath, [bin, 'serve'], { cwd: dir, env: env(dir, { PIGEON_LISTEN_IMAPS: `127.0.0.1:${port}` }), encoding: 'utf8', timeout: 30_000 });
  blocker.close();
  assert.equal(r.status, 1);
  assert.equal(r.stderr, `pigeon: cannot listen for imaps on 127.0.0.1:${port}: address already in use; change listen.imaps in the config (or set it to "" to disable)\n`);
});
