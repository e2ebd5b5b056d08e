/**
 * A span processor that keeps the last N finished spans in memory, for a trace collector to
 * read without any exporter or network in between. Fixed-size ring: constant memory, and
 * recording a span is one array write.
 */
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

export interface FinishedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: 'internal' | 'server' | 'client' | 'producer' | 'consumer';
  /** Ms since epoch. */
  startTime: number;
  durationMs: number;
  status: 'unset' | 'ok' | 'error';
  statusMessage?: string;
  attributes: Record<string, unknown>;
  serviceName: string;
  nodeId: string;
}

const kindNames: Record<SpanKind, FinishedSpan['kind']> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

const statusNames: Record<SpanStatusCode, FinishedSpan['status']> = {
  [SpanStatusCode.UNSET]: 'unset',
  [SpanStatusCode.OK]: 'ok',
  [SpanStatusCode.ERROR]: 'error',
};

export class SpanRing implements SpanProcessor {
  readonly capacity: number;
  readonly #serviceName: string;
  readonly #nodeId: string;
  // Spans are stored as the SDK hands them over; converting waits until someone reads.
  readonly #slots: Array<ReadableSpan | undefined>;
  #next = 0;
  #size = 0;

  constructor(options: { capacity: number; serviceName: string; nodeId: string }) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new Error('span ring capacity must be a positive integer');
    }
    this.capacity = options.capacity;
    this.#serviceName = options.serviceName;
    this.#nodeId = options.nodeId;
    this.#slots = new Array<ReadableSpan | undefined>(options.capacity);
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    this.#slots[this.#next] = span;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
  }

  /** Finished spans, oldest first. */
  spans(): FinishedSpan[] {
    const out: FinishedSpan[] = [];
    const start = (this.#next - this.#size + this.capacity) % this.capacity;
    for (let i = 0; i < this.#size; i++) {
      const span = this.#slots[(start + i) % this.capacity];
      if (span) out.push(this.#toFinished(span));
    }
    return out;
  }

  clear(): void {
    this.#slots.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }

  #toFinished(span: ReadableSpan): FinishedSpan {
    const context = span.spanContext();
    const finished: FinishedSpan = {
      traceId: context.traceId,
      spanId: context.spanId,
      name: span.name,
      kind: kindNames[span.kind],
      startTime: hrTimeToMilliseconds(span.startTime),
      durationMs: hrTimeToMilliseconds(span.duration),
      status: statusNames[span.status.code],
      attributes: { ...span.attributes },
      serviceName: this.#serviceName,
      nodeId: this.#nodeId,
    };
    const parent = span.parentSpanContext?.spanId;
    if (parent) finished.parentSpanId = parent;
    if (span.status.message) finished.statusMessage = span.status.message;
    return finished;
  }
}
