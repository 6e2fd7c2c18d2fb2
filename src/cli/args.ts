// Small argument helpers for the `pigeon` command: sizes, reading standard input, usage errors.

export class UsageError extends Error {
  override name = 'UsageError';
}

const units: Record<string, number> = { '': 1, B: 1, K: 1024, KB: 1024, M: 1024 ** 2, MB: 1024 ** 2, G: 1024 ** 3, GB: 1024 ** 3, T: 1024 ** 4, TB: 1024 ** 4 };

/** "500M", "2G", "1048576", "0" (unlimited) → bytes. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?B?)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what} must be a number of bytes or like 500M, 2G (got ${JSON.stringify(text)})`);
  const n = Math.round(Number(m[1]) * units[(m[2] ?? '').toUpperCase()]!);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what} is too large`);
  return n;
}

export function formatSize(bytes: number): string {
  if (bytes === 0) return '0';
  for (const [u, f] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (bytes >= f && bytes % f === 0) return `${bytes / f}${u}`;
  }
  return String(bytes);
}

export async function readStdin(limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    total += b.length;
    if (total > limit) throw new UsageError(`standard input is larger than ${limit} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** A password from --password, else the first line of standard input. */
export async function readPassword(given: string | undefined): Promise<string> {
  if (given !== undefined) return given;
  if (process.stdin.isTTY) throw new UsageError('give the password with --password or on standard input (echo pw | pigeon …)');
  const text = (await readStdin(4096)).toString('utf8');
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw new UsageError('empty password on standard input');
  return line;
}

/** Print rows as aligned columns (or nothing for an empty list). */
export function table(rows: string[][], header: string[]): string {
  if (rows.length === 0) return '';
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n') + '\n';
}
