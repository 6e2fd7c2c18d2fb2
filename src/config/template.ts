// The commented pigeon.toml written by `pigeon init`, generated from the schema so it never drifts.
import { schema, type Field } from './schema.js';

function tomlValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

export function configTemplate(overrides: { hostname?: string } = {}): string {
  const lines = ['# Pigeon configuration. Every setting has a default; uncomment to change one.', '# Environment variables PIGEON_<SECTION>_<KEY> override this file.', ''];
  for (const [section, fields] of Object.entries(schema as unknown as Record<string, Record<string, Field>>)) {
    if (section !== '') lines.push(`[${section}]`);
    for (const [key, f] of Object.entries(fields)) {
      lines.push(`# ${f.doc}`);
      if (key === 'hostname' && overrides.hostname) lines.push(`hostname = ${tomlValue(overrides.hostname)}`);
      else lines.push(`# ${key} = ${tomlValue(typeof f.default === 'function' ? f.default() : f.default)}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** docs/configuration.md: the reference, generated from the same schema (a test keeps it in step). */
export function configurationDoc(): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` (`node scripts/gen-docs.js`); a test fails when it is out of date.',
    '',
    'Pigeon reads one TOML file: `pigeon serve --config FILE`, or `PIGEON_CONFIG=FILE`. Without one, every',
    'default below applies. `pigeon init` writes a commented file. Each key can be overridden by an',
    'environment variable `PIGEON_<SECTION>_<KEY>` (top-level keys: `PIGEON_<KEY>`), e.g.',
    '`PIGEON_LISTEN_IMAP="127.0.0.1:1143"`. Relative paths are relative to the config file\'s folder.',
    'A listener set to `""` is disabled.',
    '',
  ];
  for (const [section, fields] of Object.entries(schema as unknown as Record<string, Record<string, Field>>)) {
    lines.push(section === '' ? '## Top level' : `## [${section}]`, '', '| key | default | environment | meaning |', '|---|---|---|---|');
    for (const [key, f] of Object.entries(fields)) {
      const def = typeof f.default === 'function' ? '(the machine\'s host name)' : `\`${tomlValue(f.default)}\``;
      const env = `PIGEON_${section === '' ? '' : section.toUpperCase() + '_'}${key.toUpperCase()}`;
      lines.push(`| \`${key}\` | ${def} | \`${env}\` | ${f.doc}${f.oneOf ? ` One of: ${f.oneOf.map((v) => `\`${v}\``).join(', ')}.` : ''} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
