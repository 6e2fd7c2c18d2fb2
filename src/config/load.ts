// Loading the config: TOML file (optional) + PIGEON_* environment overrides, validated against
// schema.ts. Every problem is collected and reported with its key; nothing half-valid is returned.
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve, dirname } from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { schema, type Config, type Field } from './schema.js';

type Raw = Record<string, unknown>;

function keyName(section: string, key: string): string {
  return section === '' ? key : `${section}.${key}`;
}

function envName(section: string, key: string): string {
  return `PIGEON_${section === '' ? '' : section.toUpperCase() + '_'}${key.toUpperCase()}`;
}

function fromEnv(f: Field, text: string): unknown {
  switch (f.kind) {
    case 'integer':
      return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
    case 'boolean':
      return /^(1|true|yes|on)$/i.test(text) ? true : /^(0|false|no|off)$/i.test(text) ? false : text;
    case 'string[]':
      return text === '' ? [] : text.split(',').map((s) => s.trim());
    default:
      return text;
  }
}

function checkValue(f: Field, value: unknown, name: string, problems: string[]): unknown {
  switch (f.kind) {
    case 'string':
      if (typeof value !== 'string') return problems.push(`${name}: must be a string`), undefined;
      break;
    case 'integer':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) return problems.push(`${name}: must be a whole number`), undefined;
      if (f.min !== undefined && value < f.min) return problems.push(`${name}: must be at least ${f.min}`), undefined;
      if (f.max !== undefined && value > f.max) return problems.push(`${name}: must be at most ${f.max}`), undefined;
      break;
    case 'boolean':
      if (typeof value !== 'boolean') return problems.push(`${name}: must be true or false`), undefined;
      break;
    case 'string[]':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) return problems.push(`${name}: must be a list of strings`), undefined;
      break;
  }
  if (f.oneOf && !f.oneOf.includes(value as string)) {
    return problems.push(`${name}: must be one of ${f.oneOf.map((v) => JSON.stringify(v)).join(', ')}`), undefined;
  }
  const problem = f.check?.(value as never);
  if (problem) return problems.push(`${name}: ${problem}`), undefined;
  return value;
}

export interface LoadOptions {
  /** Environment to read PIGEON_* overrides from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Validate a parsed TOML document (plus env overrides) into a Config. Throws ConfigError listing every problem. */
export function buildConfig(raw: Raw, options: LoadOptions = {}, baseDir = process.cwd()): Config {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const out: Raw = {};
  const sections = schema as unknown as Record<string, Record<string, Field>>;
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    if (key in sections && key !== '') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) problems.push(`${key}: must be a [${key}] table`);
      else for (const sub of Object.keys(value)) if (!(sub in sections[key]!)) problems.push(`${key}.${sub}: unknown key`);
    } else if (!(key in sections['']!)) {
      problems.push(`${key}: unknown key`);
    }
  }
  for (const [section, fields] of Object.entries(sections)) {
    const target: Raw = section === '' ? out : ((out[section] = {}) as Raw);
    const source = section === '' ? raw : ((raw[section] as Raw | undefined) ?? {});
    for (const [key, f] of Object.entries(fields)) {
      const name = keyName(section, key);
      const envValue = env[envName(section, key)];
      let value: unknown = envValue !== undefined ? fromEnv(f, envValue) : typeof source === 'object' && source !== null ? source[key] : undefined;
      if (value === undefined) value = typeof f.default === 'function' ? f.default() : f.default;
      target[key] = checkValue(f, value, envValue !== undefined ? `${name} (from ${envName(section, key)})` : name, problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems, `invalid configuration:\n  ${problems.join('\n  ')}`);
  const config = out as unknown as Config;
  // Relative paths are relative to the config file's folder (or the working directory).
  if (!isAbsolute(config.data_dir)) config.data_dir = resolve(baseDir, config.data_dir);
  for (const k of ['cert', 'key'] as const) if (config.tls[k] && !isAbsolute(config.tls[k])) config.tls[k] = resolve(baseDir, config.tls[k]);
  for (const k of ['extra_certs', 'extra_keys'] as const) config.tls[k] = config.tls[k].map((f) => (isAbsolute(f) ? f : resolve(baseDir, f)));
  if (config.store.driver === 'sqlite' && config.store.url && !isAbsolute(config.store.url) && config.store.url !== ':memory:') {
    config.store.url = resolve(baseDir, config.store.url);
  }
  if (config.store.driver === 'postgres' && !config.store.url) throw new ConfigError(['store.url: required when store.driver = "postgres"']);
  if (Boolean(config.tls.cert) !== Boolean(config.tls.key)) throw new ConfigError(['tls.cert and tls.key: set both, or neither for a self-signed certificate']);
  if (config.tls.extra_certs.length !== config.tls.extra_keys.length) throw new ConfigError(['tls.extra_certs and tls.extra_keys: give one key for each certificate, in the same order']);
  return config;
}

/** Which file to read: --config, else PIGEON_CONFIG, else ./pigeon.toml when it exists. */
export function configPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return explicit ?? env['PIGEON_CONFIG'] ?? undefined;
}

export function loadConfig(file: string | undefined, options: LoadOptions = {}): Config {
  if (file === undefined) return buildConfig({}, options);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read config file ${file}: ${errorMessage(err)}`]);
  }
  let raw: Raw;
  try {
    raw = parseToml(text) as Raw;
  } catch (err) {
    throw new ConfigError([`${file}: ${errorMessage(err).split('\n')[0]}`]);
  }
  try {
    return buildConfig(raw, options, dirname(resolve(file)));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(err.problems, `${file}: invalid configuration:\n  ${err.problems.join('\n  ')}`);
    throw err;
  }
}
