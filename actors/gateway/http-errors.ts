/**
 * Errors over HTTP: every error answer is `{ error: { code, message, retryable, details? } }`, with the
 * status below. Bus errors keep their code, so an HTTP client sees the same codes as docs/errors.md.
 */
import type { ErrorCode } from '../../protocols/index.ts';
import {
  GovError,
  InternalError,
  InvalidMessageError,
  NotFoundError,
  PayloadTooLargeError,
  toGovError,
} from '../../protocols/index.ts';

/** HTTP status of each code that is not a plain 500. */
export const HTTP_STATUS_BY_CODE: Partial<Record<ErrorCode, number>> = {
  GOV_ERR_INVALID_MESSAGE: 400,
  GOV_ERR_DECODE: 400,
  GOV_ERR_INVALID_SUBJECT_TOKEN: 400,
  GOV_ERR_PIPELINE_INVALID: 400,
  GOV_ERR_UNAUTHENTICATED: 401,
  GOV_ERR_FORBIDDEN: 403,
  GOV_ERR_TIER_FORBIDDEN: 403,
  GOV_ERR_POLICY_VIOLATION: 403,
  GOV_ERR_NOT_FOUND: 404,
  GOV_ERR_MEMORY_NOT_FOUND: 404,
  GOV_ERR_CHECKPOINT_NOT_FOUND: 404,
  GOV_ERR_INVALID_TARGET: 400,
  GOV_ERR_MEMORY_TOO_LARGE: 413,
  GOV_ERR_INVALID_TRANSITION: 409,
  GOV_ERR_NO_ELIGIBLE_AGENT: 409,
  GOV_ERR_PAYLOAD_TOO_LARGE: 413,
  GOV_ERR_RATE_LIMITED: 429,
  GOV_ERR_OVERLOADED: 503,
  GOV_ERR_NO_RESPONDERS: 503,
  GOV_ERR_ACTOR_STOPPED: 503,
  GOV_ERR_ACTOR_CRASHED: 503,
  GOV_ERR_BUS_CLOSED: 503,
  GOV_ERR_TIMEOUT: 504,
};

export interface HttpErrorBody {
  error: { code: ErrorCode; message: string; retryable: boolean; details?: Record<string, unknown> };
}

export interface HttpError {
  status: number;
  body: HttpErrorBody;
  error: GovError;
}

/** Fastify's own errors (body parsing, limits) carry `code: 'FST_…'` and a `statusCode`. */
function fromFastify(err: {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}): { gov: GovError; status: number } | undefined {
  if (typeof err.code !== 'string' || !err.code.startsWith('FST_')) return undefined;
  const status = typeof err.statusCode === 'number' ? err.statusCode : 500;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return {
        gov: new PayloadTooLargeError('request body is larger than the gateway accepts', {
          details: { reason: 'body-limit' },
        }),
        status: 413,
      };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return {
        gov: new InvalidMessageError('body: not valid JSON', { details: { field: 'body' } }),
        status: 400,
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        gov: new InvalidMessageError('body: empty, but Content-Type is application/json', {
          details: { field: 'body' },
        }),
        status: 400,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return {
        gov: new InvalidMessageError('body: unsupported Content-Type; send application/json', {
          details: { field: 'content-type' },
        }),
        status: 415,
      };
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return {
        gov: new InvalidMessageError('a path parameter is longer than the gateway accepts', {
          details: { reason: 'max-param-length' },
        }),
        status: 414,
      };
    case 'FST_ERR_BAD_URL':
      return {
        gov: new InvalidMessageError('the URL is not valid (a path component does not decode)', {
          details: { reason: 'bad-url' },
        }),
        status: 400,
      };
    case 'FST_ERR_NOT_FOUND':
      return { gov: new NotFoundError('no such route'), status: 404 };
    default:
      if (status >= 400 && status < 500) {
        return {
          gov: new InvalidMessageError(typeof err.message === 'string' ? err.message : err.code, {
            details: { reason: err.code },
          }),
          status,
        };
      }
      return undefined;
  }
}

/** Maps any thrown value to its HTTP status and body. Internal errors keep their message out of the body. */
export function toHttpError(err: unknown, requestId: string): HttpError {
  const fst = err && typeof err === 'object' ? fromFastify(err as Record<string, unknown>) : undefined;
  const gov = fst?.gov ?? (err instanceof GovError ? err : toGovError(err));
  const status = fst?.status ?? HTTP_STATUS_BY_CODE[gov.code] ?? 500;
  const shown =
    gov.code === 'GOV_ERR_INTERNAL' && !(err instanceof InternalError && err.details)
      ? new InternalError(`internal error; the gateway log has it under request ${requestId}`, {
          details: { requestId },
        })
      : gov;
  const body: HttpErrorBody = {
    error: { code: shown.code, message: shown.message, retryable: shown.retryable },
  };
  if (shown.details && Object.keys(shown.details).length > 0) body.error.details = shown.details;
  return { status, body, error: gov };
}
