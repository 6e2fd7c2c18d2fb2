// The HTTPS app's admin side, registered by app.ts before every other plugin:
// - security headers on every HTTPS response: CSP `default-src 'self'` with no inline script and
//   `frame-ancestors 'none'`, HSTS (RFC 6797 §6.1), X-Content-Type-Options, Referrer-Policy;
// - request metrics (count and latency by area);
// - the admin API under /api/v1 (admin-api.ts) and its OpenAPI document at /api/docs (openapi.ts);
// - /metrics in the Prometheus text format, for loopback and My Networks clients only;
// - the console: the static files of web/ under /admin/ (read once at start, served from memory,
//   so no request can name a file outside that list).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ServerMetrics } from '../shared/metrics.js';
import { prometheusContentType } from '../shared/metrics.js';
import { inNetworks, parseNetworks } from '../smtp/policy/networks.js';
import type { Store } from '../store/store.js';
import { adminApi, type AdminApiOptions } from './admin-api.js';
import { RouteCollector, buildOpenApi } from './openapi.js';

export const contentSecurityPolicy =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const securityHeaders: Record<string, string> = {
  'Content-Security-Policy': contentSecurityPolicy,
  'Strict-Transport-Security': 'max-age=31536000',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};
/** Bound on what the console folder may hold in memory. */
const maxConsoleBytes = 5 * 1024 * 1024;

/** The web/ folder, from src/http/ (tsx) or dist/src/http/ (compiled). */
export function findConsoleDir(): string | undefined {
  for (const rel of ['../../web', '../../../web']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(join(dir, 'index.html'))) return dir;
  }
  return undefined;
}

function loadConsole(dir: string): Map<string, { body: Buffer; type: string }> {
  const files = new Map<string, { body: Buffer; type: string }>();
  let total = 0;
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub))) {
      if (name.startsWith('.')) continue;
      const rel = sub === '' ? name : `${sub}/${name}`;
      const full = join(dir, rel);
      if (statSync(full).isDirectory()) {
        walk(rel);
        continue;
      }
      const type = contentTypes[extname(name)];
      if (!type) continue;
      const body = readFileSync(full);
      total += body.length;
      if (total > maxConsoleBytes) throw new Error(`the console folder ${dir} holds more than ${maxConsoleBytes} bytes`);
      files.set(rel, { body, type });
    }
  };
  walk('');
  return files;
}

function area(url: string): string {
  if (url.startsWith('/api/')) return 'api';
  if (url.startsWith('/admin')) return 'console';
  if (url.startsWith('/push/')) return 'push';
  if (url === '/metrics') return 'metrics';
  if (/^\/(\.well-known|mail|autodiscover|mobileconfig)/i.test(url)) return 'autoconfig';
  return 'other';
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** /metrics: loopback and My Networks clients only (it tells an attacker what runs). */
export async function metricsRoute(app: FastifyInstance, options: { metrics: ServerMetrics; store: Store }): Promise<void> {
  app.get('/metrics', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!isLoopback(req.ip)) {
      const { networks } = parseNetworks((await options.store.listNetworks()).map((n) => n.cidr));
      if (!inNetworks(req.ip, networks)) return reply.code(403).type('text/plain').send('metrics are served to loopback and My Networks clients only\n');
    }
    return reply.type(prometheusContentType).header('Cache-Control', 'no-store').send(await options.metrics.registry.render());
  });
}

export interface AdminSiteOptions extends AdminApiOptions {
  metrics?: ServerMetrics;
  /** Console files folder (default: web/ of the project). */
  consoleDir?: string;
}

export async function registerAdminSite(app: FastifyInstance, options: AdminSiteOptions): Promise<void> {
  app.addHook('onSend', async (_req, reply, payload) => {
    for (const [k, v] of Object.entries(securityHeaders)) if (!reply.hasHeader(k)) reply.header(k, v);
    return payload;
  });
  const metrics = options.metrics;
  if (metrics) {
    app.addHook('onResponse', async (req, reply) => {
      const a = area(req.url);
      metrics.httpRequests.inc({ area: a, status: `${Math.floor(reply.statusCode / 100)}xx` });
      metrics.httpSeconds.observe({ area: a }, reply.elapsedTime / 1000);
    });
    await app.register(metricsRoute, { metrics, store: options.store });
  }

  const collector = new RouteCollector();
  collector.attach(app, { prefix: '/api/v1' });
  await app.register(adminApi, { ...options, prefix: '/api/v1' });
  let doc: Record<string, unknown> | undefined;
  app.get('/api/docs', async (_req, reply) => {
    doc ??= buildOpenApi(collector.routes, { title: 'Pigeon admin API', version: '1' });
    return reply.header('Cache-Control', 'no-cache').send(doc);
  });

  const dir = options.consoleDir ?? findConsoleDir();
  const files = dir ? loadConsole(dir) : new Map<string, { body: Buffer; type: string }>();
  const serve = (rel: string, reply: FastifyReply) => {
    const f = files.get(rel);
    if (!f) return reply.code(404).type('text/plain').send('not found\n');
    return reply.type(f.type).header('Cache-Control', 'no-cache').send(f.body);
  };
  app.get('/', async (_req, reply) => reply.redirect('/admin/', 302));
  app.get('/admin', async (_req, reply) => reply.redirect('/admin/', 301));
  app.get('/admin/', async (_req, reply) => serve('index.html', reply));
  app.get('/admin/*', async (req, reply) => serve((req.params as { '*': string })['*'], reply));
}
