// `pigeon serve` as a child process for the crash, signal and shutdown tests: a temp data folder,
// every listener on 127.0.0.1 with an ephemeral port (PIGEON_* environment, as an operator would
// set them), the ports read from what serve prints. Runs the CLI from source under tsx, or the
// compiled one under dist/.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/open.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { silentLogger } from '../../src/shared/logger.js';

const here = dirname(fileURLToPath(import.meta.url));
const compiled = here.includes(`${join('dist', 'test')}`);
/** The repository root (cwd of the children, so `--import tsx` resolves). */
export const root = compiled ? join(here, '..', '..', '..') : join(here, '..', '..');
const entry = join(here, compiled ? 'cli-entry.js' : 'cli-entry.ts');
const nodeArgs = compiled ? [entry] : ['--import', 'tsx', entry];

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'pigeon-'));
}

export function serverEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, PIGEON_DATA_DIR: dataDir, PIGEON_HOSTNAME: 'mail.crash.test', PIGEON_LOG_LEVEL: 'silent', PIGEON_AUTH_ALLOW_PLAINTEXT: 'true', PIGEON_AUTH_FAILURE_DELAY_MS: '0', PIGEON_AUTH_MAX_FAILURE_DELAY_MS: '0' };
  delete e['PIGEON_CONFIG'];
  delete e['NODE_TEST_CONTEXT'];
  for (const k of ['SMTP', 'SUBMISSION', 'SUBMISSIONS', 'IMAP', 'IMAPS', 'POP3', 'POP3S', 'HTTP', 'HTTPS']) e[`PIGEON_LISTEN_${k}`] = '127.0.0.1:0';
  return { ...e, ...extra };
}

/** Run a `pigeon` subcommand to completion. */
export function runCli(args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...nodeArgs, ...args], { cwd: root, env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface ChildServer {
  proc: ChildProcess;
  ports: Record<string, number>;
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
}

/** Start `pigeon serve`; resolves once every listener printed its port. */
export async function startChild(env: NodeJS.ProcessEnv, options: { timeoutMs?: number } = {}): Promise<ChildServer> {
  const proc = spawn(process.execPath, [...nodeArgs, 'serve'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => { out += d; });
  proc.stderr!.on('data', (d: string) => { out += d; });
  const exited = once(proc, 'exit').then(([code, signal]) => (code === null ? String(signal) : (code as number)));
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  // serve prints the certificate line after every listener.
  while (!/certificate: /.test(out)) {
    const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), Math.max(1, deadline - Date.now())).unref());
    const what = await Promise.race([once(proc.stdout!, 'data').then(() => 'data'), exited.then(() => 'exit'), timer]);
    if (what === 'exit' || what === 'timeout') {
      proc.kill('SIGKILL');
      throw new Error(`pigeon serve did not start (${what}): ${out}`);
    }
  }
  const ports: Record<string, number> = {};
  for (const m of out.matchAll(/^\s+\S+\s+(\S+)\s+127\.0\.0\.1:(\d+)/gm)) ports[m[1]!] = Number(m[2]);
  return { proc, ports, output: () => out, exited };
}

/** Domain and user made directly in the data folder's store, before the server starts (as the
 * CLI would, without starting another process). */
export async function addUser(env: NodeJS.ProcessEnv, email: string, password: string): Promise<void> {
  mkdirSync(env['PIGEON_DATA_DIR']!, { recursive: true });
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: env['PIGEON_DATA_DIR']!, logger: silentLogger() });
  try {
    const domain = email.slice(email.indexOf('@') + 1);
    if (!(await store.getDomain(domain))) await store.addDomain(domain);
    await store.createAccount({ email, passwordHash: await hashPassword(password) });
  } finally {
    await store.close();
  }
}

/** SIGTERM, then SIGKILL if it has not exited within `timeoutMs`; resolves with how it ended. */
export async function stopChild(server: ChildServer, timeoutMs = 15_000): Promise<number | string> {
  if (server.proc.exitCode !== null || server.proc.signalCode !== null) return server.exited;
  server.proc.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const result = await Promise.race([server.exited, new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)))]);
  clearTimeout(timer);
  if (result === 'timeout') {
    server.proc.kill('SIGKILL');
    await server.exited;
  }
  return result;
}
