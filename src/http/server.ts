// Starts the HTTP (80) and HTTPS (443) listeners with the mail certificate.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Server as TlsServer } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { listenOn, parseHostPort } from '../shared/net.js';
import type { ListeningOn, RunningService } from '../shared/service.js';
import type { TlsProvider } from '../tls/provider.js';
import { buildHttpApp, buildHttpsApp, type HttpDeps } from './app.js';


export async function startHttpServer(deps: HttpDeps & { tls: TlsProvider }): Promise<RunningService> {
  const { config } = deps;
  const apps: FastifyInstance[] = [];
  const servers: HttpServer[] = [];
  const detach: Array<() => void> = [];
  const listening: ListeningOn[] = [];
  // Fastify closes only servers it listened on itself; these were listened on by listenOn.
  const closeAll = async () => {
    for (const d of detach) d();
    await Promise.allSettled(apps.map((a) => a.close()));
    await Promise.allSettled(servers.map((s) => new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    })));
  };
  try {
    let httpsPort: number | null = null;
    if (config.listen.https) {
      let server: HttpServer | undefined;
      const app = await buildHttpsApp(deps, {
        serverFactory: (handler) => (server = createHttpsServer(deps.tls.serverOptions(), handler) as unknown as HttpServer),
      });
      apps.push(app);
      // A certificate reload must reach clients that send no server name too.
      detach.push(deps.tls.attach(server as unknown as TlsServer));
      await app.ready();
      servers.push(server!);
      const at = await listenOn(server!, { name: 'https', address: config.listen.https });
      httpsPort = parseHostPort(config.listen.https).port || at.port;
      listening.push({ listener: 'https', host: at.host, port: at.port, security: 'tls' });
    }
    if (config.listen.http) {
      let server: HttpServer | undefined;
      const app = await buildHttpApp(deps, { httpsPort, serverFactory: (handler) => (server = createHttpServer(handler)) });
      apps.push(app);
      await app.ready();
      servers.push(server!);
      const at = await listenOn(server!, { name: 'http', address: config.listen.http });
      listening.push({ listener: 'http', host: at.host, port: at.port, security: 'plain' });
    }
  } catch (err) {
    await closeAll();
    throw err;
  }
  return {
    name: 'http',
    listening,
    async close() {
      await closeAll();
    },
  };
}
