import type { ServerResponse } from 'node:http';
import type { z } from 'zod';
import { parseJsonBody, ShoalError } from '../../core/index.ts';
import {
  deleteRequest,
  describeIssues,
  getRequest,
  grantRequest,
  leaseRequest,
  listRequest,
  putRequest,
  watchQuery,
} from './protocol.ts';
import type { StatusResponse, WatchResponse } from './protocol.ts';
import type { CoordinatorStore } from './store.ts';
import type { WatchHub } from './watch-hub.ts';

function parseBody<T extends z.ZodType>(schema: T, text: string): z.output<T> {
  // Also refuses nesting past MAX_JSON_DEPTH, which the store's JSON columns would recurse over.
  const json = text.trim() === '' ? undefined : parseJsonBody(text);
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ShoalError('BAD_REQUEST', 'body must be a JSON object');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new ShoalError('BAD_REQUEST', `invalid request: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** The coordinator's HTTP API over its store and watch hub, once a request is known to be authentic. */
export class CoordinatorRoutes {
  readonly #store: CoordinatorStore;
  readonly #hub: WatchHub;
  readonly #maxWaitMs: number;
  readonly #startedAt: number;

  constructor(store: CoordinatorStore, hub: WatchHub, maxWaitMs: number, startedAt: number) {
    this.#store = store;
    this.#hub = hub;
    this.#maxWaitMs = maxWaitMs;
    this.#startedAt = startedAt;
  }

  /** A long-polled watch: answers once changes under the prefix exist after `after`, or when the wait ends. */
  watch(res: ServerResponse, search: URLSearchParams): void {
    const parsed = watchQuery.safeParse(Object.fromEntries(search));
    if (!parsed.success) throw new ShoalError('BAD_REQUEST', `invalid watch query: ${describeIssues(parsed.error)}`);
    const { prefix, epoch } = parsed.data;
    const after = parsed.data.after ?? this.#store.revision;
    const waitMs = Math.min(parsed.data.waitMs ?? this.#maxWaitMs, this.#maxWaitMs);
    // Headers go out at once so the client knows it is connected while the poll is held.
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders();
    const cancel = this.#hub.wait(prefix, after, epoch, waitMs, (batch) => {
      const body: WatchResponse = batch.reset
        ? { epoch: this.#hub.epoch, reset: true, revision: batch.revision }
        : { epoch: this.#hub.epoch, events: batch.events, revision: batch.revision };
      res.end(JSON.stringify(body));
    });
    res.on('close', cancel);
  }

  /** The answer to one signed request of the KV and lease API. */
  answer(method: string, pathname: string, body: string): unknown {
    const now = Date.now();
    switch (`${method} ${pathname}`) {
      case 'GET /v1/status': {
        const status: StatusResponse = {
          epoch: this.#hub.epoch,
          revision: this.#store.revision,
          startRevision: this.#hub.startRevision,
          ...this.#store.counts(),
          uptimeMs: now - this.#startedAt,
        };
        return status;
      }
      case 'POST /v1/kv/get': {
        const { key } = parseBody(getRequest, body);
        return { entry: this.#store.get(key) ?? null, revision: this.#store.revision };
      }
      case 'POST /v1/kv/put': {
        const request = parseBody(putRequest, body);
        if (!('value' in request) || request.value === undefined) throw new ShoalError('BAD_REQUEST', 'invalid request: value: required');
        const entry = this.#store.put(request.key, request.value, { expectVersion: request.expectVersion, lease: request.lease }, now);
        return { entry, revision: this.#store.revision };
      }
      case 'POST /v1/kv/delete': {
        const { key, expectVersion } = parseBody(deleteRequest, body);
        return { deleted: this.#store.delete(key, { expectVersion }), revision: this.#store.revision };
      }
      case 'POST /v1/kv/list': {
        const { prefix } = parseBody(listRequest, body);
        return { entries: this.#store.list(prefix), revision: this.#store.revision };
      }
      case 'POST /v1/lease/grant': {
        const { ttlMs } = parseBody(grantRequest, body);
        return { lease: this.#store.grantLease(ttlMs, now), revision: this.#store.revision };
      }
      case 'POST /v1/lease/keepalive': {
        const { id } = parseBody(leaseRequest, body);
        return { lease: this.#store.keepAlive(id, now), revision: this.#store.revision };
      }
      case 'POST /v1/lease/revoke': {
        const { id } = parseBody(leaseRequest, body);
        if (!this.#store.revokeLease(id)) throw new ShoalError('NOT_FOUND', `lease ${id} does not exist or has expired`, { lease: id });
        return { revoked: true, revision: this.#store.revision };
      }
      default:
        throw new ShoalError('NOT_FOUND', `no route ${method} ${pathname}`);
    }
  }
}
