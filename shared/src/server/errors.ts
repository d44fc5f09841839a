import { toVillageError } from '../errors.js';

/**
 * The closed set of codes a client of the cloud API or of an edge's local API can see, each with
 * its one HTTP status. One table for both servers, so the web app handles them alike. Clients
 * branch on the code; the message is for people and may change.
 */
export const API_ERRORS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  /** A state-changing request with a session cookie but without its CSRF token, JSON body or same origin. */
  CSRF: 403,
  PAYLOAD_TOO_LARGE: 413,
  /** Too many login attempts from one address; Retry-After says when to try again. */
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  STORE_UNAVAILABLE: 503,
  /** The command could not be handed to the broker (cloud only). */
  BROKER_UNAVAILABLE: 503,
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

/** One problem with the request: where (`query.limit`, `path.site`) and what. */
export interface ApiIssue {
  path: string;
  message: string;
}

/** The JSON body of every error response. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; issues?: ApiIssue[] };
}

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly issues: ApiIssue[] | undefined;
  constructor(code: ApiErrorCode, message: string, issues?: ApiIssue[]) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.issues = issues;
  }

  get status(): number {
    return API_ERRORS[this.code];
  }

  body(): ApiErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.issues && { issues: this.issues }) } };
  }
}

/** 400 naming every problem (`query.limit: must be …; query.from: …`). */
export function badRequest(issues: ApiIssue[]): ApiError {
  return new ApiError('BAD_REQUEST', issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues);
}

/**
 * Anything thrown by a handler, as what the client may see: our own errors as they are, a store
 * failure as 503 (the database may come back), anything else as a bare 500 (its message could
 * leak internals; it is logged instead).
 */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (toVillageError(err).code === 'STORE_FAILED') return new ApiError('STORE_UNAVAILABLE', 'the store is unavailable; try again shortly');
  return new ApiError('INTERNAL', 'internal error');
}
