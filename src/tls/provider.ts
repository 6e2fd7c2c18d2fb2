// TLS certificates for every listener (IMAP, POP3, SMTP, HTTPS) and the outbound queue.
//
// - Configured files (tls.cert / tls.key, PEM; a value starting with "-----BEGIN" is taken as the
//   PEM itself) are loaded and checked: readable, parseable, key matches certificate. A bad file
//   is a ConfigError naming the config key.
// - Nothing configured: a self-signed certificate for `hostname` (SAN DNS:hostname, localhost,
//   127.0.0.1, ::1; ECDSA P-256) is made at first start in data_dir/tls/self-signed.{crt,key}
//   (key mode 0600), reused later, and regenerated when expired (or close to it) or when the
//   hostname is no longer among its names.
// - SNI: `extra` certificates are chosen by servername, exact name before wildcard (RFC 6125
//   §6.4.3: "*" stands for exactly one left-most label); the default certificate otherwise.
// - Policy: TLS 1.2 minimum (RFC 8996 deprecates 1.0/1.1; RFC 9325 §4), AEAD cipher suites with
//   forward secrecy only, server cipher order.
// - reload() swaps the material for new handshakes only; established connections keep theirs.
//   Attached servers (attach()) get their default context replaced, so clients without SNI see
//   the new certificate too. A failed reload keeps the previous material.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { generate } from 'selfsigned';
import { ConfigError, errorMessage } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/logger.js';

/** TLS 1.3 suites, then TLS 1.2 ECDHE + AEAD (Mozilla "intermediate"). */
export const CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/** Regenerate the self-signed certificate when fewer than this many ms of validity remain. */
const RENEW_MARGIN_MS = 30 * 24 * 3600 * 1000;
const SELF_SIGNED_DAYS = 397;
const RENEW_CHECK_MS = 12 * 3600 * 1000;
/** Largest PEM file read (a chain of a few certificates fits easily). */
const MAX_PEM_BYTES = 1024 * 1024;

export interface CertificateInfo {
  subject: string;
  altNames: string[];
  /** ms since the epoch. */
  notAfter: number;
  selfSigned: boolean;
  /** The certificate file, or null when the PEM was given inline. */
  file: string | null;
}

export interface TlsProvider {
  /** Options for tls.createServer (cert, key, minVersion TLSv1.2, modern ciphers, SNICallback). */
  serverOptions(): tls.TlsOptions;
  /** The context to upgrade a plain socket after STARTTLS (new tls.TLSSocket(sock, { isServer: true, secureContext })). */
  secureContext(servername?: string): tls.SecureContext;
  /** Re-read the files (SIGHUP or file change); existing connections keep theirs. */
  reload(): Promise<void>;
  /** Certificate facts for the console/dashboard: subject, altNames, notAfter (ms), selfSigned. */
  info(): CertificateInfo;
  /** Keep a server's default (no-SNI) certificate current across reloads; returns a detach function. */
  attach(server: tls.Server): () => void;
  /** Called after each successful reload (including watch-triggered ones); returns an unsubscribe function. */
  onReload(listener: (info: CertificateInfo) => void): () => void;
  close(): void;
}

export interface TlsProviderOptions {
  dataDir: string;
  hostname: string;
  /** tls.cert: path to a PEM chain (or the PEM itself); '' for self-signed. */
  cert: string;
  /** tls.key: path to the PEM private key (or the PEM itself). */
  key: string;
  /** More certificates chosen by SNI. */
  extra?: Array<{ cert: string; key: string }>;
  logger?: Logger;
  /** Reload when a configured certificate or key file changes (self-signed: renew before expiry). */
  watch?: boolean;
  /** fs.watchFile polling interval (ms); default 5000. */
  watchIntervalMs?: number;
  /** Clock for the self-signed expiry check (tests). */
  now?: () => number;
}

interface Material {
  certPem: string;
  keyPem: string;
  context: tls.SecureContext;
  /** Lower-case DNS names (SAN, else CN), possibly "*.example.com". */
  names: string[];
  info: CertificateInfo;
}

const isInlinePem = (value: string): boolean => value.trimStart().startsWith('-----BEGIN');

function readPem(value: string, configKey: string): { pem: string; file: string | null } {
  if (isInlinePem(value)) return { pem: value, file: null };
  let stat: fs.Stats;
  try {
    stat = fs.statSync(value);
  } catch (err) {
    throw new ConfigError([`${configKey}: cannot read ${value}: ${errorMessage(err)}`]);
  }
  if (!stat.isFile()) throw new ConfigError([`${configKey}: ${value} is not a file`]);
  if (stat.size > MAX_PEM_BYTES) throw new ConfigError([`${configKey}: ${value} is larger than ${MAX_PEM_BYTES} bytes; expected a PEM file`]);
  try {
    return { pem: fs.readFileSync(value, 'utf8'), file: path.resolve(value) };
  } catch (err) {
    throw new ConfigError([`${configKey}: cannot read ${value}: ${errorMessage(err)}`]);
  }
}

function parseAltNames(x509: X509Certificate): string[] {
  const san = x509.subjectAltName;
  if (!san) return [];
  return san
    .split(/,\s*/)
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

/** DNS names a certificate serves (SAN DNS entries; the CN only when there is no SAN DNS name). */
function dnsNames(x509: X509Certificate, altNames: string[]): string[] {
  const dns = altNames.filter((a) => a.startsWith('DNS:')).map((a) => a.slice(4).toLowerCase());
  if (dns.length > 0) return dns;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(x509.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

function buildMaterial(certPem: string, keyPem: string, keys: { cert: string; key: string }, file: string | null): Material {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    throw new ConfigError([`${keys.cert}: not a PEM certificate (${errorMessage(err)})`]);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new ConfigError([`${keys.key}: not a PEM private key (${errorMessage(err)})`]);
  }
  if (!x509.checkPrivateKey(key)) throw new ConfigError([`${keys.key}: the private key does not match the certificate in ${keys.cert}`]);
  let context: tls.SecureContext;
  try {
    context = tls.createSecureContext({ cert: certPem, key: keyPem, minVersion: MIN_TLS_VERSION, ciphers: CIPHERS, honorCipherOrder: true });
  } catch (err) {
    throw new ConfigError([`${keys.cert}: unusable certificate/key pair (${errorMessage(err)})`]);
  }
  const altNames = parseAltNames(x509);
  const selfSigned = x509.issuer === x509.subject && x509.verify(x509.publicKey);
  return {
    certPem,
    keyPem,
    context,
    names: dnsNames(x509, altNames),
    info: { subject: x509.subject.replace(/\n/g, ', '), altNames, notAfter: Date.parse(x509.validTo), selfSigned, file },
  };
}

/** Whether certificate name `pattern` (maybe "*.example.com") covers `servername` (RFC 6125 §6.4.3). */
export function nameMatches(pattern: string, servername: string): boolean {
  const name = servername.toLowerCase().replace(/\.$/, '');
  const p = pattern.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === name;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === p.slice(2);
}

function selfSignedPaths(dataDir: string): { dir: string; cert: string; key: string } {
  const dir = path.join(dataDir, 'tls');
  return { dir, cert: path.join(dir, 'self-signed.crt'), key: path.join(dir, 'self-signed.key') };
}

function writeAtomic(file: string, data: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

async function generateSelfSigned(hostname: string, now: number): Promise<{ cert: string; key: string }> {
  const names = new Set([hostname.toLowerCase(), 'localhost']);
  const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [];
  for (const n of names) altNames.push(isIP(n) ? { type: 7, ip: n } : { type: 2, value: n });
  if (!names.has('127.0.0.1')) altNames.push({ type: 7, ip: '127.0.0.1' });
  if (!names.has('::1')) altNames.push({ type: 7, ip: '::1' });
  const pems = await generate([{ name: 'commonName', value: hostname }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 60_000),
    notAfterDate: new Date(now + SELF_SIGNED_DAYS * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** Whether a stored self-signed certificate may be reused for `hostname` at `now`. */
function reusable(material: Material, hostname: string, now: number): boolean {
  if (material.info.notAfter - RENEW_MARGIN_MS <= now) return false;
  const host = hostname.toLowerCase();
  if (isIP(host)) {
    const want = ipaddr.parse(host).toNormalizedString();
    return material.info.altNames.some((a) => a.startsWith('IP Address:') && ipaddr.isValid(a.slice(11)) && ipaddr.parse(a.slice(11)).toNormalizedString() === want);
  }
  return material.names.includes(host);
}

class Provider implements TlsProvider {
  readonly #options: TlsProviderOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  #default!: Material;
  #extra: Material[] = [];
  readonly #servers = new Set<tls.Server>();
  readonly #listeners = new Set<(info: CertificateInfo) => void>();
  readonly #watched: string[] = [];
  #reloading: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  #closed = false;
  #renewTimer: NodeJS.Timeout | undefined;

  constructor(options: TlsProviderOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.#now = options.now ?? Date.now;
  }

  async load(): Promise<void> {
    const { cert, key } = this.#options;
    let def: Material;
    if (cert === '' && key === '') def = await this.#selfSigned();
    else {
      if (cert === '') throw new ConfigError(['tls.cert: missing (tls.key is set); set both, or neither for a self-signed certificate']);
      if (key === '') throw new ConfigError(['tls.key: missing (tls.cert is set); set both, or neither for a self-signed certificate']);
      def = this.#loadPair(cert, key, { cert: 'tls.cert', key: 'tls.key' });
    }
    const extra = (this.#options.extra ?? []).map((e, i) => this.#loadPair(e.cert, e.key, { cert: `tls.extra[${i}].cert`, key: `tls.extra[${i}].key` }));
    this.#default = def;
    this.#extra = extra;
  }

  #loadPair(cert: string, key: string, keys: { cert: string; key: string }): Material {
    const c = readPem(cert, keys.cert);
    const k = readPem(key, keys.key);
    return buildMaterial(c.pem, k.pem, keys, c.file);
  }

  async #selfSigned(): Promise<Material> {
    const p = selfSignedPaths(this.#options.dataDir);
    const keys = { cert: p.cert, key: p.key };
    const now = this.#now();
    if (fs.existsSync(p.cert) && fs.existsSync(p.key)) {
      try {
        const existing = buildMaterial(fs.readFileSync(p.cert, 'utf8'), fs.readFileSync(p.key, 'utf8'), keys, p.cert);
        if (reusable(existing, this.#options.hostname, now)) {
          if ((fs.statSync(p.key).mode & 0o077) !== 0) fs.chmodSync(p.key, 0o600);
          return existing;
        }
        this.#logger.info({ file: p.cert, hostname: this.#options.hostname }, 'self-signed certificate expired or for another hostname; regenerating');
      } catch (err) {
        this.#logger.warn({ file: p.cert, err: errorMessage(err) }, 'self-signed certificate unreadable; regenerating');
      }
    }
    fs.mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    const pems = await generateSelfSigned(this.#options.hostname, now);
    writeAtomic(p.key, pems.key, 0o600);
    writeAtomic(p.cert, pems.cert, 0o644);
    this.#logger.info({ file: p.cert, hostname: this.#options.hostname }, 'generated a self-signed certificate');
    return buildMaterial(pems.cert, pems.key, keys, p.cert);
  }

  #pick(servername: string | undefined): Material {
    if (servername) {
      const exact = this.#extra.find((m) => m.names.some((n) => !n.startsWith('*.') && nameMatches(n, servername)));
      if (exact) return exact;
      const wild = this.#extra.find((m) => m.names.some((n) => n.startsWith('*.') && nameMatches(n, servername)));
      if (wild) return wild;
    }
    return this.#default;
  }

  serverOptions(): tls.TlsOptions {
    return {
      cert: this.#default.certPem,
      key: this.#default.keyPem,
      minVersion: MIN_TLS_VERSION,
      ciphers: CIPHERS,
      honorCipherOrder: true,
      SNICallback: (servername, callback) => {
        try {
          callback(null, this.#pick(servername).context);
        } catch (err) {
          callback(err instanceof Error ? err : new Error(String(err)));
        }
      },
    };
  }

  secureContext(servername?: string): tls.SecureContext {
    return this.#pick(servername).context;
  }

  reload(): Promise<void> {
    // One reload at a time; a request during one runs once more after it (files may have changed
    // again), and further requests meanwhile share that second run.
    if (this.#reloading) {
      this.#queued ??= this.#reloading
        .catch(() => undefined)
        .then(() => {
          this.#queued = undefined;
          return this.reload();
        });
      return this.#queued;
    }
    this.#reloading = this.#doReload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #doReload(): Promise<void> {
    const before = { def: this.#default, extra: this.#extra };
    try {
      await this.load();
    } catch (err) {
      this.#default = before.def;
      this.#extra = before.extra;
      throw err;
    }
    const { certPem: cert, keyPem: key } = this.#default;
    for (const server of this.#servers) server.setSecureContext({ cert, key, minVersion: MIN_TLS_VERSION, ciphers: CIPHERS, honorCipherOrder: true });
    const info = this.info();
    this.#logger.info({ subject: info.subject, notAfter: new Date(info.notAfter).toISOString() }, 'TLS certificates reloaded');
    for (const listener of this.#listeners) listener(info);
  }

  info(): CertificateInfo {
    return { ...this.#default.info, altNames: [...this.#default.info.altNames] };
  }

  attach(server: tls.Server): () => void {
    this.#servers.add(server);
    return () => {
      this.#servers.delete(server);
    };
  }

  onReload(listener: (info: CertificateInfo) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  startWatching(): void {
    const files = new Set<string>();
    const add = (value: string): void => {
      if (value !== '' && !isInlinePem(value)) files.add(path.resolve(value));
    };
    add(this.#options.cert);
    add(this.#options.key);
    for (const e of this.#options.extra ?? []) {
      add(e.cert);
      add(e.key);
    }
    if (files.size === 0) {
      // Self-signed: renew in place before it expires (checked twice a day).
      this.#renewTimer = setInterval(() => {
        if (this.#default.info.notAfter - RENEW_MARGIN_MS > this.#now()) return;
        this.reload().catch((err: unknown) => this.#logger.error({ err: errorMessage(err) }, 'self-signed certificate renewal failed'));
      }, RENEW_CHECK_MS);
      this.#renewTimer.unref();
      return;
    }
    const interval = this.#options.watchIntervalMs ?? 5000;
    for (const file of files) {
      fs.watchFile(file, { interval, persistent: false }, (curr, prev) => {
        if (this.#closed || (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino)) return;
        this.reload().catch((err: unknown) => {
          this.#logger.error({ file, err: errorMessage(err) }, 'TLS reload failed; keeping the previous certificate');
        });
      });
      this.#watched.push(file);
    }
  }

  close(): void {
    this.#closed = true;
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    for (const file of this.#watched) fs.unwatchFile(file);
    this.#watched.length = 0;
    this.#servers.clear();
    this.#listeners.clear();
  }
}

/** Load (or make) the certificates; throws ConfigError naming the key when a file is unusable. */
export async function createTlsProvider(options: TlsProviderOptions): Promise<TlsProvider> {
  const provider = new Provider(options);
  await provider.load();
  if (options.watch === true) provider.startWatching();
  return provider;
}
