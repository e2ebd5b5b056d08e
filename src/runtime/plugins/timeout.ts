import type { Plugin } from '../../core/index.ts';

/**
 * Gives every outbound call a deadline of its own timeout from now. The broker keeps the tighter
 * of that and a deadline inherited from the parent call, so a chain of calls never outlives the
 * request that started it. A deadline hook rather than an interceptor: the call's meta is not
 * the plugin's to write, and the broker writes it once, before the chain runs.
 */
export function timeoutPlugin(): Plugin {
  return {
    name: 'shoal:timeout',
    callDeadline: (call, nowMs) => nowMs + call.timeoutMs,
  };
}
