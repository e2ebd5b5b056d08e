/**
 * Errors that cross process boundaries. Every failure a user can see is a ShoalError with a
 * stable code; the HTTP status is derived from the code so the gateway and the CLI agree.
 */
import { randomBytes } from 'node:crypto';

export type ErrorCode =
  | 'VALIDATION'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'CONFLICT'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'RATE_LIMITED'
  | 'TIMEOUT'
  | 'REQUEST_TIMEOUT'
  | 'HEADERS_TOO_LARGE'
  | 'BAD_GATEWAY'
  | 'UNAVAILABLE'
  | 'CIRCUIT_OPEN'
  | 'NOT_IMPLEMENTED'
  | 'VERSION_NOT_SUPPORTED'
  | 'INTERNAL';

const httpStatusByCode: Record<ErrorCode, number> = {
  VALIDATION: 422,
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  RATE_LIMITED: 429,
  TIMEOUT: 504,
  REQUEST_TIMEOUT: 408,
  HEADERS_TOO_LARGE: 431,
  BAD_GATEWAY: 502,
  UNAVAILABLE: 503,
  CIRCUIT_OPEN: 503,
  NOT_IMPLEMENTED: 501,
  VERSION_NOT_SUPPORTED: 505,
  INTERNAL: 500,
};

/** Codes after which the same request may safely be tried on another endpoint. */
const retryableCodes: ReadonlySet<ErrorCode> = new Set(['UNAVAILABLE', 'CIRCUIT_OPEN', 'TIMEOUT']);

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export class ShoalError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'ShoalError';
    this.code = code;
    this.details = details;
  }

  get httpStatus(): number {
    return httpStatusByCode[this.code];
  }

  /** True when a failed attempt is worth repeating elsewhere (the action must also be idempotent). */
  get retryable(): boolean {
    return retryableCodes.has(this.code);
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(httpStatusByCode, value);
}

/** Turns anything thrown into a ShoalError; unknown failures become INTERNAL without leaking stacks. */
export function toShoalError(err: unknown): ShoalError {
  if (err instanceof ShoalError) return err;
  if (err && typeof err === 'object' && 'code' in err && isErrorCode(err.code) && 'message' in err) {
    return new ShoalError(err.code, String(err.message), 'details' in err ? err.details : undefined);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ShoalError('INTERNAL', message);
}

/** Rebuilds an error from its wire form ({ code, message, details }). */
export function errorFromWire(wire: unknown): ShoalError {
  if (wire && typeof wire === 'object') {
    const w = wire as { code?: unknown; message?: unknown; details?: unknown };
    if (isErrorCode(w.code)) return new ShoalError(w.code, String(w.message ?? w.code), w.details);
  }
  return new ShoalError('INTERNAL', 'malformed error from peer', { received: typeof wire });
}

export function errorToWire(err: unknown): { code: ErrorCode; message: string; details?: unknown } {
  const e = toShoalError(err);
  return { code: e.code, message: e.message, details: e.details };
}

/**
 * What a client may see of a failure: a ShoalError as it is, but an unexpected one (a bug, a
 * library's exception) as INTERNAL with a generic message and an error id. The original stays
 * on `cause` for the log line that carries the same id; it never crosses the wire, which sends
 * code, message and details only. An INTERNAL error that already has an id passes as it is.
 */
export function concealUnexpected(err: unknown): ShoalError {
  if (err instanceof ShoalError && err.code !== 'INTERNAL') return err;
  if (err instanceof ShoalError && errorIdOf(err) !== undefined) return err;
  if (!(err instanceof ShoalError) && err && typeof err === 'object' && 'code' in err && isErrorCode(err.code) && err.code !== 'INTERNAL') return toShoalError(err);
  const errorId = randomBytes(6).toString('hex');
  const concealed = new ShoalError('INTERNAL', `internal error (error id ${errorId}); the server's log has the details`, { errorId });
  Object.defineProperty(concealed, 'cause', { value: err, enumerable: false });
  return concealed;
}

/** The id an INTERNAL error was logged under, if it has one. */
export function errorIdOf(err: unknown): string | undefined {
  const id = err instanceof ShoalError ? (err.details as { errorId?: unknown } | undefined)?.errorId : undefined;
  return typeof id === 'string' ? id : undefined;
}

/** The message and stack of what an error was concealing, for the log line. */
export function concealedCause(err: unknown): { message: string; stack?: string } | undefined {
  const cause = err instanceof Error ? (err as Error & { cause?: unknown }).cause : undefined;
  if (cause === undefined) return undefined;
  return cause instanceof Error ? { message: cause.message, ...(cause.stack ? { stack: cause.stack } : {}) } : { message: String(cause) };
}
