/**
 * Clocks for deadlines and sampling windows, read at most once per burst of work.
 *
 * Every call needs "now" several times on each side (its deadline, the time left for the
 * transport, the sampling window), and a clock read is a call into the runtime, or into the
 * kernel where the virtual machine's clock source has no fast path. These clocks read once,
 * keep the value while the current synchronous job and the microtasks queued before the first
 * read run, then forget it. That is the rule Node's own timers follow (libuv caches the loop
 * time once per turn): a value is never older than the work in between, so a deadline computed
 * from it can only come early by that much, never late.
 *
 * Durations that are reported (metrics, balancer latency) keep reading performance.now().
 */

let cachedWallMs = -1;
let cachedMonotonicMs = -1;
let expiryQueued = false;

function expire(): void {
  cachedWallMs = -1;
  cachedMonotonicMs = -1;
  expiryQueued = false;
}

function queueExpiry(): void {
  if (expiryQueued) return;
  expiryQueued = true;
  queueMicrotask(expire);
}

/** Milliseconds since the epoch (Date.now()), for deadlines that travel between processes. */
export function wallClockMs(): number {
  if (cachedWallMs < 0) {
    cachedWallMs = Date.now();
    queueExpiry();
  }
  return cachedWallMs;
}

/** Monotonic milliseconds (performance.now()), for deadlines that stay in this process. */
export function monotonicMs(): number {
  if (cachedMonotonicMs < 0) {
    cachedMonotonicMs = performance.now();
    queueExpiry();
  }
  return cachedMonotonicMs;
}
