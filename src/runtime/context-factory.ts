import type { CallMeta, ContextExtensions } from '../core/index.ts';
import { contextClassWith, type CallContext, type ContextShared } from './call-context.ts';
import type { RequestIds } from './request-ids.ts';

/** Makes the contexts handlers run with, and the metadata of work that starts in this process. */
export class ContextFactory {
  readonly #nodeId: string;
  readonly #shared: ContextShared;
  readonly #contextClass: typeof CallContext;
  readonly #requestIds: RequestIds;

  constructor(nodeId: string, shared: ContextShared, requestIds: RequestIds, extensions: Partial<ContextExtensions> | undefined) {
    this.#nodeId = nodeId;
    this.#shared = shared;
    this.#requestIds = requestIds;
    this.#contextClass = contextClassWith(extensions);
  }

  create(service: string, version: number, action: string | undefined, meta: Readonly<CallMeta>): CallContext {
    return new this.#contextClass(this.#shared, service, version, action, meta);
  }

  /** Metadata for a call or event that no other call caused (lifecycle hooks, emits from outside). */
  freshMeta(): CallMeta {
    return { requestId: this.#requestIds.next(), callerNodeId: this.#nodeId };
  }
}
