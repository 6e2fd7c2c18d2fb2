import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig, loadConfig } from '../../src/config/load.js';
import { configTemplate } from '../../src/config/template.js';
import { schema } from '../../src/config/schema.js';
import { ConfigError } from '../../src/shared/errors.js';
import { parse } from 'smol-toml';

const noEnv = { env: {} };

describe('config', () => {
  test('an empty file gives the standard ports and the embedded store', () => {
    const c = buildConfig({}, noEnv, '/srv/pigeon');
    assert.deepEqual(
      [c.listen.smtp, c.listen.submission, c.listen.submissions, c.listen.imap, c.listen.imaps, c.listen.pop3, c.listen.pop3s, c.listen.http, c.listen.https],
      ['0.0.0.0:25', '0.0.0.0:587', '0.0.0.0:465', '0.0.0.0:143', '0.0.0.0:993', '0.0.0.0:110', '0.0.0.0:995', '0.0.0.0:80', '0.0.0.0:443'],
    );
    assert.equal(c.listen.lmtp, '');
    assert.equal(c.store.driver, 'sqlite');
    assert.equal(c.data_dir, '/srv/pigeon/data');
    assert.equal(c.auth.allow_plaintext, false);
    assert.equal(c.limits.max_message_size, 50 * 1024 * 1024);
  });

  test('a bad file is refused with every problem listed and the key named', () => {
    const err = (() => {
      try {
        buildConfig({ hostnam: 'x', listen: { imap: 'nonsense', smtp: 25 }, store: { driver: 'mysql' }, limits: { max_line_length: -1 } }, noEnv);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError);
    assert.deepEqual(err.problems.sort(), [
      'hostnam: unknown key',
      'limits.max_line_length: must be at least 1024',
      'listen.imap: must be "addr:port" (e.g. "0.0.0.0:993" or "[::]:993"), or "" to disable',
      'listen.smtp: must be a string',
      'store.driver: must be one of "sqlite", "postgres"',
    ]);
  });

  test('environment variables override the file and are named in problems', () => {
    const c = buildConfig({ listen: { imap: '0.0.0.0:143' } }, { env: { PIGEON_LISTEN_IMAP: '127.0.0.1:1143', PIGEON_AUTH_ALLOW_PLAINTEXT: 'true' } });
    assert.equal(c.listen.imap, '127.0.0.1:1143');
    assert.equal(c.auth.allow_plaintext, true);
    assert.throws(() => buildConfig({}, { env: { PIGEON_LIMITS_MAX_RECIPIENTS: 'many' } }), /limits\.max_recipients \(from PIGEON_LIMITS_MAX_RECIPIENTS\): must be a whole number/);
  });

  test('"" disables a listener and IPv6 addresses are accepted', () => {
    const c = buildConfig({ listen: { pop3: '', imaps: '[::1]:993' } }, noEnv);
    assert.equal(c.listen.pop3, '');
    assert.equal(c.listen.imaps, '[::1]:993');
  });

  test('the init template is valid TOML, loads, and documents every key', () => {
    const text = configTemplate({ hostname: 'mail.example.com' });
    const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
    writeFileSync(join(dir, 'pigeon.toml'), text);
    const c = loadConfig(join(dir, 'pigeon.toml'), noEnv);
    assert.equal(c.hostname, 'mail.example.com');
    assert.equal(c.data_dir, join(dir, 'data'));
    // Uncommenting every line must also give a valid file with the defaults.
    const uncommented = text.split('\n').map((l) => (/^# [a-z_]+ = /.test(l) ? l.slice(2) : l)).join('\n');
    const raw = parse(uncommented) as Record<string, unknown>;
    const expected = [...Object.keys(schema['']), ...Object.keys(schema).filter((k) => k !== '')].sort();
    assert.deepEqual(Object.keys(raw).sort(), expected);
    buildConfig(raw, noEnv);
  });

  test('a TOML syntax error names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
    const file = join(dir, 'bad.toml');
    writeFileSync(file, '[listen\nimap = 1');
    assert.throws(() => loadConfig(file, noEnv), (e: unknown) => e instanceof ConfigError && e.message.startsWith(file));
  });

  test('postgres without a url is refused', () => {
    assert.throws(() => buildConfig({ store: { driver: 'postgres' } }, noEnv), /store\.url: required/);
  });
});

test('docs/configuration.md is generated from the schema and up to date', async () => {
  const { readFileSync } = await import('node:fs');
  const { configurationDoc } = await import('../../src/config/template.js');
  assert.equal(readFileSync('docs/configuration.md', 'utf8'), configurationDoc(), 'run: npm run build && node scripts/gen-docs.js');
});

test('SNI certificates come in pairs, relative to the config folder', () => {
  const c = buildConfig({ tls: { extra_certs: ['a.crt', '/etc/b.crt'], extra_keys: ['a.key', '/etc/b.key'] } }, noEnv, '/srv/pigeon');
  assert.deepEqual(c.tls.extra_certs, ['/srv/pigeon/a.crt', '/etc/b.crt']);
  assert.deepEqual(c.tls.extra_keys, ['/srv/pigeon/a.key', '/etc/b.key']);
  assert.throws(() => buildConfig({ tls: { extra_certs: ['a.crt'] } }, noEnv), /tls\.extra_certs and tls\.extra_keys/);
});
