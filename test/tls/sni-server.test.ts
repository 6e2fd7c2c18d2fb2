// SNI through the real server: `[tls] extra_certs/extra_keys` give each hosted domain its own
// certificate on IMAPS, while clients asking for another name (or none) get the default one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { startTestPigeon } from '../harness/pigeon.js';

async function certFor(dir: string, name: string): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: name }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2 as const, value: name }] }] });
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  writeFileSync(cert, pems.cert);
  writeFileSync(key, pems.private, { mode: 0o600 });
  return { cert, key };
}

function peerName(port: number, servername?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername ? { servername } : {}) }, () => {
      const cn = s.getPeerCertificate().subject?.CN;
      s.destroy();
      resolve(Array.isArray(cn) ? cn[0]! : String(cn));
    });
    s.once('error', reject);
  });
}

test('IMAPS answers each hosted domain with its own certificate (SNI) and others with the default', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-sni-'));
  const a = await certFor(dir, 'mail.alpha.example');
  const b = await certFor(dir, 'mail.beta.example');
  const pigeon = await startTestPigeon({ tls: { extra_certs: [a.cert, b.cert], extra_keys: [a.key, b.key] } });
  t.after(() => pigeon.close({ timeoutMs: 0 }));
  const port = pigeon.ports['imaps']!;
  assert.equal(await peerName(port, 'mail.alpha.example'), 'mail.alpha.example');
  assert.equal(await peerName(port, 'mail.beta.example'), 'mail.beta.example');
  assert.equal(await peerName(port, 'other.example'), 'mail.example.test');
  assert.equal(await peerName(port), 'mail.example.test');
});
