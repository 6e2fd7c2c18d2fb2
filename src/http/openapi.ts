// The OpenAPI 3.1 document of the admin API, served at /api/docs. It is built from the routes
// themselves: `collectRoutes` records every route as Fastify registers it (method, URL, and the
// route's JSON Schema objects, the same ones Fastify validates with), so the document cannot
// drift from the API. The error catalogue (errors.ts) is listed under components.
import type { FastifyInstance, RouteOptions } from 'fastify';
import { errorCatalogue, errorSchema } from './errors.js';

export interface RouteRecord {
  method: string;
  /** Fastify's URL, e.g. "/api/v1/domains/:domain". */
  url: string;
  schema: Record<string, unknown>;
  auth: string;
}

export class RouteCollector {
  readonly routes: RouteRecord[] = [];

  /** Call on the root instance before registering the plugins to document. */
  attach(app: FastifyInstance, options: { prefix: string }): void {
    app.addHook('onRoute', (route: RouteOptions) => {
      if (!route.url.startsWith(options.prefix)) return;
      const methods = (Array.isArray(route.method) ? route.method : [route.method]).filter((m) => m !== 'HEAD');
      const auth = String(route.config?.auth ?? 'admin');
      for (const method of methods) this.routes.push({ method: method.toLowerCase(), url: route.url, schema: (route.schema ?? {}) as Record<string, unknown>, auth });
    });
  }
}

/** "/api/v1/domains/:domain" → "/api/v1/domains/{domain}". */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

type Json = Record<string, unknown>;

function parameters(schema: Json | undefined, where: 'path' | 'query'): Json[] {
  if (!schema || typeof schema !== 'object') return [];
  const props = (schema['properties'] ?? {}) as Record<string, Json>;
  const required = new Set((schema['required'] ?? []) as string[]);
  return Object.entries(props).map(([name, s]) => ({ name, in: where, required: where === 'path' || required.has(name), schema: s }));
}

function responses(schema: Json | undefined): Json {
  const out: Json = {};
  for (const [status, s] of Object.entries((schema ?? {}) as Record<string, Json>)) {
    const key = status.toUpperCase();
    if (s['type'] === 'null') out[key] = { description: String(s['description'] ?? 'no content') };
    else out[key] = { description: /^[45]/.test(key) ? 'an error from the catalogue (components.schemas.Error)' : 'success', content: { 'application/json': { schema: s } } };
  }
  return out;
}

export function buildOpenApi(routes: readonly RouteRecord[], info: { title: string; version: string; serverUrl?: string }): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const s = r.schema;
    const op: Json = {
      operationId: `${r.method}${openApiPath(r.url).replace(/[{}]/g, '').replace(/\/([a-z0-9])/gi, (_m, c: string) => c.toUpperCase()).replace(/[^A-Za-z0-9]/g, '')}`,
      summary: s['summary'] ?? '',
      tags: s['tags'] ?? [],
      parameters: [...parameters(s['params'] as Json | undefined, 'path'), ...parameters(s['querystring'] as Json | undefined, 'query')],
      responses: responses(s['response'] as Json | undefined),
      security: r.auth === 'none' ? [] : [{ session: [] }],
      'x-pigeon-auth': r.auth,
    };
    if (s['body']) op['requestBody'] = { required: true, content: { 'application/json': { schema: s['body'] } } };
    if (r.method !== 'get' && r.auth !== 'none') (op['parameters'] as Json[]).push({ name: 'X-CSRF-Token', in: 'header', required: true, schema: { type: 'string' } });
    (paths[openApiPath(r.url)] ??= {})[r.method] = op;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: info.title,
      version: info.version,
      description: 'Pigeon admin API. Sign in with POST /api/v1/session; the session cookie then authenticates, and every non-GET call needs the X-CSRF-Token returned at sign-in. Errors: `{ "error": { "code", "message" } }` with the codes of components.schemas.Error (x-error-catalogue gives each code\'s status).',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: { session: { type: 'apiKey', in: 'cookie', name: '__Host-pigeon_session' } },
      schemas: { Error: errorSchema },
    },
    'x-error-catalogue': Object.fromEntries(Object.entries(errorCatalogue).map(([code, e]) => [code, { status: e.status, description: e.description }])),
  };
}
