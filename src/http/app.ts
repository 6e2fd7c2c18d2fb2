// The HTTP side (Fastify): one plugin per resource. The HTTPS app carries everything: the admin
// API, console, OpenAPI document, metrics and security headers (admin-site.ts), autoconfig and the
// Subscribe URL; the plain-HTTP app serves autoconfiguration (and /metrics to loopback/My
// Networks) only and redirects everything else to HTTPS.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { IncomingMessage, ServerResponse, Server } from 'node:http';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { Logger } from '../shared/logger.js';
import { autoconfigPlugin, rewriteAutodiscoverUrl } from './autoconfig.js';
import { pushRoutes } from './push-routes.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { PushService } from '../push/service.js';
import type { TlsProvider } from '../tls/provider.js';
import type { ServerMetrics } from '../shared/metrics.js';
import type { ListeningOn } from '../shared/service.js';
import type { Clock } from '../shared/clock.js';
import { registerAdminSite, metricsRoute } from './admin-site.js';
import type { QueueAdmin } from './admin-api.js';
import type { RecentFailures } from './recent-failures.js';

/** Lets the caller own the socket server (TLS options, one-line listen errors). */
export type ServerFactory = (handler: (req: IncomingMessage, res: ServerResponse) => void) => Server;

export interface HttpDeps {
  config: Config;
  store: Store;
  logger: Logger;
  /** With push: the Subscribe URL routes (push-routes.ts). */
  authenticator?: Authenticator;
  push?: PushService;
  /** Admin console and API (admin-site.ts): certificate facts for the dashboard. */
  tls?: TlsProvider;
  /** Served at /metrics; HTTP requests are counted in it. */
  metrics?: ServerMetrics;
  /** The outbound queue's retry/remove (issue 8), when present. */
  queue?: QueueAdmin;
  /** Where every service listens (dashboard). */
  listeners?: () => Array<ListeningOn & { service: string }>;
  recentFailures?: RecentFailures;
  clock?: Clock;
}

const baseOptions = (deps: HttpDeps) => ({
  loggerInstance: deps.logger.child({ component: 'http' }),
  // No per-request log lines (fastify 5.x: through a LogController, not the deprecated
  // top-level disableRequestLogging, FSTDEP023).
  logController: new LogController({ disableRequestLogging: true }),
  bodyLimit: 1024 * 1024,
  rewriteUrl: (req: { url?: string }) => rewriteAutodiscoverUrl(req.url ?? '/'),
  return503OnClosing: true,
});

/** The HTTPS application. `serverFactory` lets the caller own the socket server (listen errors, TLS). */
export async function buildHttpsApp(deps: HttpDeps, options: { serverFactory?: ServerFactory } = {}): Promise<FastifyInstance> {
  const app = Fastify({ ...baseOptions(deps), ...(options.serverFactory ? { serverFactory: options.serverFactory as never } : {}) }) as unknown as FastifyInstance;
  if (deps.authenticator) await registerAdminSite(app, { ...deps, authenticator: deps.authenticator });
  await app.register(autoconfigPlugin, { config: deps.config, store: deps.store });
  if (deps.push && deps.authenticator) await app.register(pushRoutes, { push: deps.push, authenticator: deps.authenticator });
  app.get('/healthz', async () => ({ ok: true }));
  return app;
}

/** The plain-HTTP application: autoconfiguration, and a redirect to HTTPS for everything else. */
export async function buildHttpApp(deps: HttpDeps, options: { httpsPort: number | null; serverFactory?: ServerFactory }): Promise<FastifyInstance> {
  const app = Fastify({ ...baseOptions(deps), ...(options.serverFactory ? { serverFactory: options.serverFactory as never } : {}) }) as unknown as FastifyInstance;
  await app.register(autoconfigPlugin, { config: deps.config, store: deps.store });
  if (deps.metrics) await app.register(metricsRoute, { metrics: deps.metrics, store: deps.store });
  app.setNotFoundHandler((req, reply) => {
    const host = String(req.headers.host ?? deps.config.hostname).replace(/:\d+$/, '').replace(/[^A-Za-z0-9.\-[\]:]/g, '');
    const port = options.httpsPort === null || options.httpsPort === 443 ? '' : `:${options.httpsPort}`;
    return reply.redirect(`https://${host}${port}${req.url}`, 301);
  });
  return app;
}
