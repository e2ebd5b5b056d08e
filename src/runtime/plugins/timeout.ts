import { wallClockMs, type Plugin } from '../../core/index.ts';

/**
 * Gives every outbound call a deadline. A call made inside a handler inherits the tighter of
 * its own limit and its parent's deadline, so a chain of calls never outlives the request
 * that started it.
 */
export function timeoutPlugin(): Plugin {
  return {
    name: 'timeout',
    outboundCall(call, next) {
      const own = wallClockMs() + call.timeoutMs;
      call.meta.deadline = call.meta.deadline === undefined ? own : Math.min(call.meta.deadline, own);
      return next(call);
    },
  };
}
