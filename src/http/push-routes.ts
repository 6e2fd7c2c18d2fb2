// The Subscribe URL (PUSH.md "The relay protocol (v1)"): SUBSCRIBE, ACTIVATE, renewal and
// UNSUBSCRIBE under /push/v1/{domain}/subscriptions. The relay authenticates as the account with
// HTTP Basic (RFC 7617), checked by the Authenticator (protocol 'push'), so failures count toward
// login throttling like any other login. Bodies are JSON (RFC 8259), at most 64 KiB; a body that
// is not JSON is 422 naming the field "body". Statuses: 201, 200, 204, 401, 403, 404, 422, 429.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticator.js';
import type { Account } from '../store/store.js';
import type { PushService } from '../push/service.js';
import { RelayError, type RelayAnswer, type RelayCredential } from '../push/relay.js';

export interface PushRoutesOptions {
  push: PushService;
  authenticator: Authenticator;
}

const maxBodyBytes = 64 * 1024;
const realm = 'Basic realm="Pigeon push", charset="UTF-8"';

class InvalidBody extends Error {}

/** RFC 7617 §2: user-id ":" password, base64; the user-id cannot contain ":". */
function basicCredentials(header: string | undefined): { username: string; password: string } | undefined {
  if (!header || header.length > 4096) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const i = text.indexOf(':');
  return i < 0 ? undefined : { username: text.slice(0, i), password: text.slice(i + 1) };
}

function send(reply: FastifyReply, answer: RelayAnswer): FastifyReply {
  reply.code(answer.status).header('Cache-Control', 'no-store');
  return answer.body === undefined ? reply.send() : reply.send(answer.body);
}

export async function pushRoutes(app: FastifyInstance, options: PushRoutesOptions): Promise<void> {
  const { push, authenticator } = options;

  // This plugin's own body parsing: anything up to 64 KiB, parsed as JSON here so errors are 422.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: maxBodyBytes }, (_req, body, done) => {
    const text = String(body);
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text) as unknown);
    } catch {
      done(new InvalidBody('the body is not valid JSON'), undefined);
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err instanceof RelayError) {
      if (err.status === 401) reply.header('WWW-Authenticate', realm);
      if (err.retryAfterSeconds !== undefined) reply.header('Retry-After', String(err.retryAfterSeconds));
      return reply.code(err.status).send({ error: err.message, ...(err.field ? { field: err.field } : {}) });
    }
    if (err instanceof InvalidBody) return reply.code(422).send({ error: err.message, field: 'body' });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return reply.code(413).send({ error: `the body is larger than ${maxBodyBytes} bytes` });
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
    app.log.error({ err }, 'push route failed');
    return reply.code(500).send({ error: 'internal error' });
  });

  const authenticate = async (req: FastifyRequest): Promise<{ account: Account; credential: RelayCredential }> => {
    const creds = basicCredentials(req.headers.authorization);
    if (!creds) throw new RelayError(401, 'HTTP Basic credentials of the account are required');
    const result = await authenticator.authenticate({ username: creds.username, password: creds.password, remoteAddress: req.ip, protocol: 'push' });
    if (result.ok) return { account: result.account, credential: result.credential };
    if (result.reason === 'locked') {
      throw new RelayError(429, 'too many failed logins; try again later', result.retryAfterSeconds !== undefined ? { retryAfterSeconds: result.retryAfterSeconds } : {});
    }
    throw new RelayError(401, 'invalid credentials');
  };

  type DomainParams = { Params: { domain: string } };
  type IdParams = { Params: { domain: string; id: string } };

  app.post<DomainParams>('/push/v1/:domain/subscriptions', async (req, reply) => {
    push.checkSubscribeRate(req.ip);
    const { account, credential } = await authenticate(req);
    return send(reply, await push.relay.subscribe({ domain: req.params.domain, account, credential, remoteAddress: req.ip, body: req.body }));
  });

  app.post<IdParams>('/push/v1/:domain/subscriptions/:id/activate', async (req, reply) => {
    const { account } = await authenticate(req);
    return send(reply, await push.relay.activate({ domain: req.params.domain, id: req.params.id, account, remoteAddress: req.ip, body: req.body }));
  });

  app.post<IdParams>('/push/v1/:domain/subscriptions/:id/renew', async (req, reply) => {
    const { account } = await authenticate(req);
    return send(reply, await push.relay.renew({ domain: req.params.domain, id: req.params.id, account, remoteAddress: req.ip, body: req.body }));
  });

  app.delete<IdParams>('/push/v1/:domain/subscriptions/:id', async (req, reply) => {
    const { account } = await authenticate(req);
    return send(reply, await push.relay.unsubscribe({ domain: req.params.domain, id: req.params.id, account, remoteAddress: req.ip }));
  });
}
