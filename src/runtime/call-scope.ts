import { AsyncLocalStorage } from 'node:async_hooks';
import type { CallMeta } from '../core/index.ts';

/**
 * The call a handler is serving, for the work it starts without passing its context along: a
 * call made through `ctx.data`, a library the handler uses. Such a call joins the handler's
 * trace and inherits its deadline, as a `ctx.call` does explicitly, so one request carries one
 * trace id from the gateway into the shard.
 */
export const callScope = new AsyncLocalStorage<Readonly<CallMeta>>();
