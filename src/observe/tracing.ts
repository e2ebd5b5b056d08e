/**
 * Distributed tracing on OpenTelemetry. Trace context travels in CallMeta (traceparent and
 * tracestate), so parents are taken from and written to the call's metadata explicitly rather
 * than from an async context manager: that works the same across processes and in-process.
 * Traces are head-sampled (see sampling.ts): a hop that is not recorded builds no span and only
 * hands on a fresh traceparent.
 */
import { propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Attributes, Context, Span, TextMapGetter, TextMapSetter, Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { toShoalError } from '../core/index.ts';
import { withMeta, type CallMeta, type EventMessage, type InboundCall, type OutboundCall, type Plugin } from '../core/index.ts';
import { TraceSampler } from './sampling.ts';
import type { SamplingOptions } from './sampling.ts';
import { SpanRing } from './span-ring.ts';
import type { FinishedSpan } from './span-ring.ts';
import { newRootTraceParent, newSpanId } from './trace-ids.ts';
import { commonFormFlags, parseTraceParent, traceIdLowBits } from './traceparent.ts';

export interface TracingOptions {
  serviceName: string;
  nodeId: string;
  /** Finished spans kept in memory for recentSpans() (default 256). */
  capacity?: number;
  /** Which new traces are recorded; unset fields come from the environment (see sampling.ts). */
  sampling?: SamplingOptions;
}

export interface Tracing {
  readonly serviceName: string;
  readonly nodeId: string;
  readonly provider: BasicTracerProvider;
  readonly tracer: Tracer;
  readonly sampler: TraceSampler;
  /** Last finished spans, oldest first. */
  recentSpans(): FinishedSpan[];
  shutdown(): Promise<void>;
}

const defaultCapacity = 256;
const instrumentationName = 'shoal';

// Shared: it holds no state, and one instance avoids an allocation per call.
const propagator = new W3CTraceContextPropagator();

// Typed to CallMeta, so extracting and injecting touch two known fields and nothing else.
const metaGetter: TextMapGetter<CallMeta> = {
  keys: () => ['traceparent', 'tracestate'],
  get(carrier, key) {
    if (key === 'traceparent') return carrier.traceparent;
    if (key === 'tracestate') return carrier.tracestate;
    return undefined;
  },
};

const metaSetter: TextMapSetter<CallMeta> = {
  set(carrier, key, value) {
    if (key === 'traceparent') carrier.traceparent = value;
    else if (key === 'tracestate') carrier.tracestate = value;
  },
};

let active: Tracing | undefined;

/**
 * Starts tracing for this process: a tracer provider registered globally with the W3C
 * trace-context propagator, keeping recent finished spans in memory. Starting again replaces
 * the previous setup (the OpenTelemetry API accepts one global provider at a time).
 */
export function startTracing(options: TracingOptions): Tracing {
  if (active) stopGlobal();
  const ring = new SpanRing({
    capacity: options.capacity ?? defaultCapacity,
    serviceName: options.serviceName,
    nodeId: options.nodeId,
  });
  const sampler = new TraceSampler(options.sampling);
  const provider = new BasicTracerProvider({ sampler, spanProcessors: [ring] });
  trace.setGlobalTracerProvider(provider);
  propagation.setGlobalPropagator(propagator);
  const tracing: Tracing = {
    serviceName: options.serviceName,
    nodeId: options.nodeId,
    provider,
    tracer: provider.getTracer(instrumentationName),
    sampler,
    recentSpans: () => ring.spans(),
    async shutdown() {
      if (active === tracing) {
        stopGlobal();
        active = undefined;
      }
      await provider.shutdown();
    },
  };
  active = tracing;
  return tracing;
}

/** Unregisters the global provider and propagator so another setup can register its own. */
function stopGlobal(): void {
  trace.disable();
  propagation.disable();
}

/** Recent finished spans of the running tracing setup (empty when tracing is not started). */
export function recentSpans(): FinishedSpan[] {
  return active ? active.recentSpans() : [];
}

/** Context whose active span is the caller's, taken from meta; the root context when there is none. */
export function contextFromMeta(meta: CallMeta): Context {
  const traceparent = meta.traceparent;
  if (traceparent === undefined) return ROOT_CONTEXT;
  // The common form without a tracestate is read directly; anything else goes to the propagator.
  const flags = meta.tracestate === undefined ? commonFormFlags(traceparent) : -1;
  if (flags < 0) return propagator.extract(ROOT_CONTEXT, meta, metaGetter);
  return remoteParent(traceparent, flags);
}

/** The caller's span as a parent, from a traceparent in the common form and its flags. */
function remoteParent(traceparent: string, flags: number): Context {
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: traceparent.slice(3, 35),
    spanId: traceparent.slice(36, 52),
    traceFlags: flags,
    isRemote: true,
  });
}

/** Writes the span's context into meta as traceparent (and tracestate when it has one). */
export function injectIntoMeta(span: Span, meta: CallMeta): void {
  const context = span.spanContext();
  if (context.traceState === undefined) {
    // What the W3C propagator writes, without building a context to hand it.
    const flags = context.traceFlags & 0xff;
    meta.traceparent = `00-${context.traceId}-${context.spanId}-${flags < 16 ? '0' : ''}${flags.toString(16)}`;
    // A tracestate that arrived without a usable traceparent belongs to no trace of ours.
    if (meta.tracestate !== undefined) meta.tracestate = undefined;
    return;
  }
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), meta, metaSetter);
}

function recordFailure(span: Span, err: unknown): void {
  const error = toShoalError(err);
  span.setAttribute('shoal.error.code', error.code);
  span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
}

export interface TracingPluginOptions {
  /** Defaults to the tracer of startTracing(), else the global one. */
  tracer?: Tracer;
  /** Recorded as shoal.node; defaults to the nodeId given to startTracing(). */
  nodeId?: string;
  /** Decides which new traces are recorded; defaults to startTracing()'s, else one from the environment. */
  sampler?: TraceSampler;
}

/**
 * Decides whether a hop records a span. It returns the context to record under; or, for a hop
 * that is not recorded, writes the traceparent to hand on into meta and returns undefined
 * (no object per call for the common, unrecorded case).
 */
function recordOrPassOn(meta: CallMeta, sampler: TraceSampler): Context | undefined {
  const traceparent = meta.traceparent;
  if (traceparent === undefined) return startRoot(meta, sampler);
  const flags = commonFormFlags(traceparent);
  if (flags >= 0) {
    if ((flags & 1) === 1) return meta.tracestate === undefined ? remoteParent(traceparent, flags) : contextFromMeta(meta);
    // "00-" + trace id + "-": the caller's, kept as it is.
    meta.traceparent = `${traceparent.slice(0, 36)}${newSpanId()}-00`;
    return undefined;
  }
  const parent = parseTraceParent(traceparent);
  if (parent) {
    if (parent.sampled) return contextFromMeta(meta);
    meta.traceparent = `00-${parent.traceId}-${newSpanId()}-00`;
    return undefined;
  }
  return startRoot(meta, sampler);
}

/** A hop without a usable parent starts a trace: recorded when the sampler says so. */
function startRoot(meta: CallMeta, sampler: TraceSampler): Context | undefined {
  const traceparent = newRootTraceParent();
  if (sampler.sampleRoot(traceIdLowBits(traceparent))) return TraceSampler.sampledRoot;
  meta.traceparent = traceparent;
  // A tracestate without a usable parent belongs to no trace of ours.
  if (meta.tracestate !== undefined) meta.tracestate = undefined;
  return undefined;
}

/**
 * Spans around calls and events: CLIENT/PRODUCER for work leaving this process, SERVER/CONSUMER
 * for work arriving. Each writes its own traceparent into the meta handed on, so the next hop
 * (a remote handler, or calls made by a local handler) becomes its child.
 */
export function tracingPlugin(options: TracingPluginOptions = {}): Plugin {
  const tracer = options.tracer ?? active?.tracer ?? trace.getTracer(instrumentationName);
  const nodeId = options.nodeId ?? active?.nodeId;
  const sampler = options.sampler ?? active?.sampler ?? new TraceSampler();

  function callAttributes(call: OutboundCall | InboundCall): Attributes {
    const attributes: Attributes = {
      'rpc.system': 'shoal',
      'rpc.service': call.service,
      'rpc.method': call.action,
      'shoal.version': call.version,
    };
    if (nodeId !== undefined) attributes['shoal.node'] = nodeId;
    return attributes;
  }

  function eventAttributes(message: EventMessage): Attributes {
    const attributes: Attributes = {
      'messaging.system': 'shoal',
      'messaging.destination.name': message.event,
      'shoal.event.mode': message.mode,
    };
    if (message.target) {
      attributes['rpc.service'] = message.target.service;
      attributes['shoal.version'] = message.target.version;
    }
    if (nodeId !== undefined) attributes['shoal.node'] = nodeId;
    return attributes;
  }

  // Not async: one .then() ends the span, rather than an async frame and its promise.
  function around<T>(span: Span, run: () => Promise<T>): Promise<T> {
    let pending: Promise<T>;
    try {
      pending = run();
    } catch (err) {
      recordFailure(span, err);
      span.end();
      return Promise.reject(err);
    }
    return pending.then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        recordFailure(span, err);
        span.end();
        throw err;
      },
    );
  }

  /**
   * The span of one call hop around `next`. Hook inputs are readonly, so the trace context to
   * hand on goes into a copy of the meta, and `next` gets a copy of the call carrying it: for an
   * outbound call the caller's meta keeps pointing at the caller's span; for an inbound one the
   * copy becomes the handler's meta, so the handler's own calls nest under this span. The span's
   * name and attributes are built only for a recorded hop.
   */
  function callHop<T extends OutboundCall | InboundCall>(call: T, next: (call: T) => Promise<unknown>, kind: SpanKind): Promise<unknown> {
    const meta = { ...call.meta };
    const parent = recordOrPassOn(meta, sampler);
    if (parent === undefined) return next(withMeta(call, meta));
    const span = tracer.startSpan(`${call.service}/${call.action}`, { kind, attributes: callAttributes(call) }, parent);
    injectIntoMeta(span, meta);
    return around(span, () => next(withMeta(call, meta)));
  }

  /** The same for an event: PRODUCER on the way out, CONSUMER on delivery. */
  function eventHop(message: EventMessage, next: (message: EventMessage) => Promise<void>, kind: SpanKind): Promise<void> {
    const meta = { ...message.meta };
    const parent = recordOrPassOn(meta, sampler);
    if (parent === undefined) return next(withMeta(message, meta));
    const name = `${message.event} ${kind === SpanKind.PRODUCER ? 'publish' : 'process'}`;
    const span = tracer.startSpan(name, { kind, attributes: eventAttributes(message) }, parent);
    injectIntoMeta(span, meta);
    return around(span, () => next(withMeta(message, meta)));
  }

  return {
    name: 'shoal:tracing',
    outboundCall: (call, next) => callHop(call, next, SpanKind.CLIENT),
    inboundCall: (call, next) => callHop(call, next, SpanKind.SERVER),
    outboundEvent: (message, next) => eventHop(message, next, SpanKind.PRODUCER),
    inboundEvent: (message, next) => eventHop(message, next, SpanKind.CONSUMER),
  };
}
