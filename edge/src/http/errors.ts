import { toVillageError } from '@smart-village/shared';

/**
 * The closed set of codes a client of the local API sees, each with its one HTTP status: the
 * cloud's codes (cloud/src/api/errors.ts), so the web app handles both servers alike.
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
} as const;
export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ApiIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly issues?: ApiIssue[],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  get status(): number {
    return API_ERRORS[this.code];
  }

  body(): { error: { code: ApiErrorCode; message: string; issues?: ApiIssue[] } } {
    return { error: { code: this.code, message: this.message, ...(this.issues && { issues: this.issues }) } };
  }
}

export function badRequest(issues: ApiIssue[]): ApiError {
  return new ApiError('BAD_REQUEST', issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues);
}

/** What the client may see of anything thrown: our errors as they are, a store failure as 503, the rest a bare 500. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (toVillageError(err).code === 'STORE_FAILED') return new ApiError('STORE_UNAVAILABLE', 'the store is unavailable; try again shortly');
  return new ApiError('INTERNAL', 'internal error');
}
