import type { IncomingMessage } from 'node:http';
import { ShoalError } from '../errors.ts';

/**
 * The request target as a URL. `new URL()` throws on targets such as `http://[::1/x`; a
 * handler that calls this inside its error handling answers 400 instead of never answering.
 */
export function requestUrl(req: IncomingMessage): URL {
  const target = req.url ?? '/';
  try {
    return new URL(target, 'http://localhost');
  } catch {
    throw new ShoalError('BAD_REQUEST', `request target is not a valid URL: ${JSON.stringify(target.slice(0, 200))}`);
  }
}
