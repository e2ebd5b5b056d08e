/**
 * ClientWatch: one watch of the embedded client, a loop of long-polls. It remembers the last
 * revision it delivered and the server epoch, so after a dropped connection or a server restart
 * it asks again from there: each change arrives once, in order, or a reset says history is gone.
 */
import { Backoff, type Logger } from '../../core/index.ts';
import type { Watch, WatchEvent } from '../index.ts';
import type { HttpCaller } from './http-caller.ts';
import type { StatusResponse, WatchResponse } from './protocol.ts';

const RETRY_BACKOFF = { initialMs: 100, maxMs: 2000 };

export class ClientWatch implements Watch {
  private readonly caller: HttpCaller;
  private readonly prefix: string;
  private readonly listener: (event: WatchEvent) => void;
  private readonly logger: Logger;
  private readonly pollTimeoutMs: number;
  private readonly abort = new AbortController();
  private after: number | undefined;
  private epoch: string | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private wakeBackoff: (() => void) | undefined;
  private closed = false;

  constructor(options: {
    caller: HttpCaller;
    prefix: string;
    listener: (event: WatchEvent) => void;
    logger: Logger;
    afterRevision: number | undefined;
    /** Client-side limit for one long-poll: the server's hold time plus a margin. */
    pollTimeoutMs: number;
  }) {
    this.caller = options.caller;
    this.prefix = options.prefix;
    this.listener = options.listener;
    this.logger = options.logger;
    this.after = options.afterRevision;
    this.pollTimeoutMs = options.pollTimeoutMs;
    void this.run();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    clearTimeout(this.backoffTimer);
    this.wakeBackoff?.();
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(RETRY_BACKOFF);
    while (!this.closed) {
      try {
        if (this.after === undefined) {
          // "From now" needs a concrete revision before the first poll, or a change made
          // while that poll is being retried could be skipped.
          const status = await this.caller.call<StatusResponse>('GET', '/v1/status', undefined, { signal: this.abort.signal });
          this.after = status.revision;
          this.epoch = status.epoch;
          continue;
        }
        const query = new URLSearchParams({ prefix: this.prefix, after: String(this.after) });
        if (this.epoch !== undefined) query.set('epoch', this.epoch);
        const answer = await this.caller.call<WatchResponse>('GET', `/v1/watch?${query}`, undefined, {
          signal: this.abort.signal,
          timeoutMs: this.pollTimeoutMs,
        });
        backoff.reset();
        this.apply(answer);
      } catch (err) {
        if (this.closed) break;
        this.logger.debug({ err, prefix: this.prefix, after: this.after }, 'watch poll failed; retrying');
        await this.sleep(backoff.next());
      }
    }
  }

  private apply(answer: WatchResponse): void {
    this.epoch = answer.epoch;
    if (answer.reset) {
      this.after = answer.revision;
      this.deliver({ type: 'reset', revision: answer.revision });
      return;
    }
    for (const event of answer.events) {
      if (this.closed) return;
      // Guards exactly-once should an answer ever overlap what was already delivered.
      if (event.revision <= (this.after ?? -1)) continue;
      this.after = event.revision;
      this.deliver(event);
    }
    if (answer.revision > (this.after ?? -1)) this.after = answer.revision;
  }

  private deliver(event: WatchEvent): void {
    if (this.closed) return;
    try {
      this.listener(event);
    } catch (err) {
      this.logger.error({ err, prefix: this.prefix }, 'watch listener threw');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wakeBackoff = resolve;
      this.backoffTimer = setTimeout(resolve, ms);
    });
  }
}
