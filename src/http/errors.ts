// The one coded catalogue of admin API errors. Every error the API answers has the body
// `{ "error": { "code": "<code>", "message": "<text for a human>" } }` and the status listed here;
// the OpenAPI document (openapi.ts) lists the catalogue, so scripts can switch on `code`.
//
// Mapping (toApiError): InvalidInput / BadCommand / schema validation → invalid_input (400);
// Refused NONEXISTENT → <resource>_not_found (404); ALREADYEXISTS → <resource>_exists (409);
// INUSE → in_use (409); LIMIT → limit_reached (409); anything else → internal_error (500, text hidden).
import { BadCommand, Refused } from '../shared/errors.js';
import { InvalidInput } from '../admin/operations.js';

export const errorCatalogue = {
  invalid_input: { status: 400, description: 'A field is missing or malformed; the message names it.' },
  invalid_json: { status: 400, description: 'The request body is not valid JSON.' },
  not_signed_in: { status: 401, description: 'No valid admin session: sign in with POST /api/v1/session.' },
  sign_in_failed: { status: 401, description: 'Wrong address or password.' },
  not_admin: { status: 403, description: 'The account is not an administrator.' },
  outside_scope: { status: 403, description: 'A domain administrator asked for something outside their domain, or for a server-wide setting.' },
  csrf_failed: { status: 403, description: 'The X-CSRF-Token header is missing or wrong, or the request came from another origin.' },
  not_found: { status: 404, description: 'No such API route.' },
  domain_not_found: { status: 404, description: 'No such domain.' },
  account_not_found: { status: 404, description: 'No such account.' },
  alias_not_found: { status: 404, description: 'No such alias.' },
  network_not_found: { status: 404, description: 'That range is not in My Networks.' },
  subscription_not_found: { status: 404, description: 'No such push subscription.' },
  app_password_not_found: { status: 404, description: 'The account has no app password with that id.' },
  queue_entry_not_found: { status: 404, description: 'No such message on the outbound queue.' },
  domain_exists: { status: 409, description: 'The domain already exists.' },
  account_exists: { status: 409, description: 'An account or alias with that address already exists.' },
  alias_exists: { status: 409, description: 'An alias or account with that address already exists.' },
  network_exists: { status: 409, description: 'The range is already in My Networks.' },
  in_use: { status: 409, description: 'The object is still in use (a domain with accounts: remove them or pass force=true).' },
  limit_reached: { status: 409, description: 'A configured limit was reached.' },
  body_too_large: { status: 413, description: 'The request body is too large.' },
  unsupported_media_type: { status: 415, description: 'The body must be application/json.' },
  locked_out: { status: 429, description: 'Too many failed sign-ins from this address or for this account; retry after the Retry-After seconds.' },
  internal_error: { status: 500, description: 'A server bug; the details are in the server log.' },
  not_available: { status: 501, description: 'The feature is not available in this server (yet).' },
} as const;

export type ErrorCode = keyof typeof errorCatalogue;
/** What a route works on, for naming not-found/exists errors. */
export type Resource = 'domain' | 'account' | 'alias' | 'network' | 'subscription' | 'queue_entry' | 'app_password';

export class ApiError extends Error {
  override name = 'ApiError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfterSeconds: number | undefined;
  constructor(code: ErrorCode, message: string, options: { retryAfterSeconds?: number } = {}) {
    super(message);
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

interface FastifyishError {
  code?: unknown;
  statusCode?: unknown;
  validation?: unknown;
  message: string;
}

const resourceCode = (resource: Resource | undefined, suffix: 'not_found' | 'exists'): ErrorCode => {
  if (resource === undefined) return suffix === 'exists' ? 'in_use' : 'not_found';
  const code = `${resource}_${suffix}`;
  return code in errorCatalogue ? (code as ErrorCode) : suffix === 'exists' ? 'in_use' : 'not_found';
};

/** Any thrown value → the catalogue's error. `internal` is true when the text must be hidden (log it). */
export function toApiError(err: unknown, resource?: Resource): { error: ApiError; internal: boolean } {
  if (err instanceof ApiError) return { error: err, internal: false };
  if (err instanceof InvalidInput || err instanceof BadCommand) return { error: new ApiError('invalid_input', err.message), internal: false };
  if (err instanceof Refused) {
    switch (err.code) {
      case 'NONEXISTENT':
        return { error: new ApiError(resourceCode(resource, 'not_found'), err.message), internal: false };
      case 'ALREADYEXISTS':
        return { error: new ApiError(resourceCode(resource, 'exists'), err.message), internal: false };
      case 'INUSE':
        return { error: new ApiError('in_use', err.message), internal: false };
      case 'LIMIT':
      case 'OVERQUOTA':
        return { error: new ApiError('limit_reached', err.message), internal: false };
      default:
        return { error: new ApiError('invalid_input', err.message), internal: false };
    }
  }
  if (err instanceof Error) {
    const e = err as FastifyishError;
    if (e.validation !== undefined) return { error: new ApiError('invalid_input', e.message), internal: false };
    switch (e.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return { error: new ApiError('body_too_large', e.message), internal: false };
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return { error: new ApiError('unsupported_media_type', 'the body must be application/json'), internal: false };
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
        return { error: new ApiError('invalid_input', 'the body must not be empty'), internal: false };
      case 'FST_ERR_CTP_INVALID_JSON_BODY':
        return { error: new ApiError('invalid_json', 'the body is not valid JSON'), internal: false };
      default:
        if (err instanceof SyntaxError && typeof e.statusCode === 'number' && e.statusCode === 400) {
          return { error: new ApiError('invalid_json', 'the body is not valid JSON'), internal: false };
        }
    }
  }
  return { error: new ApiError('internal_error', 'internal error; see the server log'), internal: true };
}

export function errorBody(error: ApiError): ErrorBody {
  return { error: { code: error.code, message: error.message } };
}

/** JSON Schema of the error body, with the catalogue's codes (for OpenAPI). */
export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string', enum: Object.keys(errorCatalogue) }, message: { type: 'string' } },
    },
  },
} as const;
