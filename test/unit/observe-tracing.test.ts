import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composeChain, ShoalError } from '../../src/core/index.ts';
import type { CallMeta, EventMessage, InboundCall, OutboundCall } from '../../src/core/index.ts';
import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { parseTraceParent as otelParseTraceParent, W3CTraceContextPropagator } from '@opentelemetry/core';
import { contextFromMeta, injectIntoMeta, parseTraceParent, recentSpans, spanIdOf, startTracing, traceIdOf, TraceSampler, tracingPlugin } from '../../src/observe/index.ts';
import { newRootTraceParent } from '../../src/observe/trace-ids.ts';
import { traceIdLowBits } from '../../src/observe/traceparent.ts';
import type { FinishedSpan } from '../../src/observe/index.ts';

const tracing = startTracing({ serviceName: 'test', nodeId: 'node-a' });
const plugin = tracingPlugin();

const incomingTraceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const incomingSpanId = '00f067aa0ba902b7';
const incoming = `00-${incomingTraceId}-${incomingSpanId}-01`;

function outbound(meta: CallMeta, action = 'create'): OutboundCall {
  return {
    service: 'links',
    version: 2,
    action,
    params: {},
    meta,
    idempotent: false,
    timeoutMs: 1000,
    exclude: new Set(),
    attempts: 0,
  };
}

function inbound(meta: CallMeta): InboundCall {
  return { service: 'links', version: 2, action: 'resolve', params: {}, meta };
}

function spanById(spanId: string | undefined): FinishedSpan {
  const span = recentSpans().find((s) => s.spanId === spanId);
  assert.ok(span, `span ${spanId} recorded`);
  return span;
}

test('traceIdOf and spanIdOf read a traceparent and reject malformed ones', () => {
  assert.equal(traceIdOf(incoming), incomingTraceId);
  assert.equal(spanIdOf(incoming), incomingSpanId);
  assert.equal(traceIdOf(undefined), undefined);
  assert.equal(traceIdOf('garbage'), undefined);
  assert.equal(traceIdOf(`00-${'0'.repeat(32)}-${incomingSpanId}-01`), undefined);
});

test('parseTraceParent agrees with OpenTelemetry on every one-character change of a traceparent', () => {
  const valid = [incoming, `00-${incomingTraceId}-${incomingSpanId}-00`, `00-${'f'.repeat(32)}-${'9'.repeat(16)}-ff`];
  // Digits, letters either side of a-f, case, separators, Latin-1 and wider characters, and one
  // whose low byte is 'a' (U+0161), which a check on the low byte alone would take for hex.
  const replacements = ['0', '9', 'a', 'f', 'g', 'A', 'F', '/', ':', '`', '-', ' ', '\u00e9', '\u0130', '\u0161', '\u{1F600}'];
  let compared = 0;
  for (const base of valid) {
    for (let i = 0; i < base.length; i++) {
      for (const replacement of replacements) {
        const changed = base.slice(0, i) + replacement + base.slice(i + 1);
        const otel = otelParseTraceParent(changed);
        const expected = otel ? { traceId: otel.traceId, sampled: (otel.traceFlags & 1) === 1 } : undefined;
        assert.deepEqual(parseTraceParent(changed), expected, JSON.stringify(changed));
        compared++;
      }
    }
  }
  assert.equal(compared, 3 * 55 * replacements.length);
});

test('contextFromMeta and injectIntoMeta read and write what the W3C propagator does', () => {
  const w3c = new W3CTraceContextPropagator();
  const getter = { keys: () => ['traceparent', 'tracestate'], get: (m: CallMeta, k: string) => (k === 'traceparent' ? m.traceparent : k === 'tracestate' ? m.tracestate : undefined) };
  const setter = { set: (m: CallMeta, k: string, v: string) => void (k === 'traceparent' ? (m.traceparent = v) : (m.tracestate = v)) };
  const metas: CallMeta[] = [
    { requestId: 'a', traceparent: incoming },
    { requestId: 'b', traceparent: `00-${incomingTraceId}-${incomingSpanId}-00` },
    { requestId: 'c', traceparent: incoming, tracestate: 'vendor=opaque,other=1' },
    { requestId: 'd', traceparent: `01-${incomingTraceId}-${incomingSpanId}-01-future` },
    { requestId: 'e', traceparent: `00-${incomingTraceId.toUpperCase()}-${incomingSpanId}-01` },
    { requestId: 'f', traceparent: `00-${'0'.repeat(32)}-${incomingSpanId}-01` },
    { requestId: 'g', traceparent: 'garbage' },
    { requestId: 'h' },
  ];
  for (const meta of metas) {
    const ours = trace.getSpanContext(contextFromMeta(meta));
    const theirs = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, meta, getter));
    assert.deepEqual(
      ours && { ...ours, traceState: ours.traceState?.serialize() },
      theirs && { ...theirs, traceState: theirs.traceState?.serialize() },
      meta.requestId,
    );
  }
  const tracer = trace.getTracer('test');
  for (const parent of metas.slice(0, 3)) {
    const span = tracer.startSpan('x', {}, contextFromMeta(parent));
    const ours: CallMeta = { requestId: 'o', tracestate: 'stale=1' };
    injectIntoMeta(span, ours);
    const theirs: CallMeta = { requestId: 'o' };
    w3c.inject(trace.setSpan(ROOT_CONTEXT, span), theirs, setter);
    assert.equal(ours.traceparent, theirs.traceparent, parent.requestId);
    assert.equal(ours.tracestate, theirs.tracestate, parent.requestId);
    span.end();
  }
});

test('outbound call gets a CLIENT span that is a child of the incoming traceparent', async () => {
  let sent: CallMeta | undefined;
  const chain = composeChain<OutboundCall, unknown>([plugin.outboundCall!], async (call) => {
    sent = call.meta;
    return 'ok';
  });
  const callerMeta: CallMeta = { requestId: 'r1', traceparent: incoming };
  assert.equal(await chain(outbound(callerMeta)), 'ok');

  assert.ok(sent?.traceparent);
  assert.equal(traceIdOf(sent.traceparent), incomingTraceId);
  assert.notEqual(spanIdOf(sent.traceparent), incomingSpanId);
  assert.equal(sent.requestId, 'r1');
  // The caller's own meta keeps pointing at the caller's span.
  assert.equal(callerMeta.traceparent, incoming);

  const span = spanById(spanIdOf(sent.traceparent));
  assert.equal(span.kind, 'client');
  assert.equal(span.traceId, incomingTraceId);
  assert.equal(span.parentSpanId, incomingSpanId);
  assert.equal(span.status, 'unset');
  assert.deepEqual(
    [span.attributes['rpc.service'], span.attributes['rpc.method'], span.attributes['shoal.version'], span.attributes['shoal.node']],
    ['links', 'create', 2, 'node-a'],
  );
  assert.equal(span.serviceName, 'test');
});

test('outbound call without a traceparent starts a new root trace', async () => {
  let sent: CallMeta | undefined;
  const chain = composeChain<OutboundCall, unknown>([plugin.outboundCall!], async (call) => {
    sent = call.meta;
  });
  await chain(outbound({ requestId: 'r2' }));

  const traceId = traceIdOf(sent?.traceparent);
  assert.ok(traceId, 'a valid traceparent was written');
  assert.notEqual(traceId, incomingTraceId);
  const span = spanById(spanIdOf(sent?.traceparent));
  assert.equal(span.parentSpanId, undefined);
  assert.equal(span.traceId, traceId);
});

test('inbound SERVER span becomes the parent of calls made by the handler', async () => {
  let nestedMeta: CallMeta | undefined;
  const outboundChain = composeChain<OutboundCall, unknown>([plugin.outboundCall!], async (call) => {
    nestedMeta = call.meta;
  });
  let handlerMeta: CallMeta | undefined;
  const inboundChain = composeChain<InboundCall, unknown>([plugin.inboundCall!], async (call) => {
    handlerMeta = call.meta;
    // What a handler's ctx.call does: carry the handler's trace context onward.
    await outboundChain(outbound({ requestId: 'nested', traceparent: call.meta.traceparent }, 'lookup'));
    return 'done';
  });

  assert.equal(await inboundChain(inbound({ requestId: 'r3', traceparent: incoming })), 'done');

  const serverSpanId = spanIdOf(handlerMeta?.traceparent);
  const server = spanById(serverSpanId);
  assert.equal(server.kind, 'server');
  assert.equal(server.traceId, incomingTraceId);
  assert.equal(server.parentSpanId, incomingSpanId);

  assert.equal(traceIdOf(nestedMeta?.traceparent), incomingTraceId);
  const client = spanById(spanIdOf(nestedMeta?.traceparent));
  assert.equal(client.kind, 'client');
  assert.equal(client.traceId, incomingTraceId);
  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(client.attributes['rpc.method'], 'lookup');
});

test('a failing call sets ERROR status with the ShoalError code and rethrows', async () => {
  let sent: CallMeta | undefined;
  const failure = new ShoalError('UNAVAILABLE', 'no endpoint');
  const chain = composeChain<OutboundCall, unknown>([plugin.outboundCall!], async (call) => {
    sent = call.meta;
    throw failure;
  });
  await assert.rejects(chain(outbound({ requestId: 'r4', traceparent: incoming })), (err) => err === failure);
  const span = spanById(spanIdOf(sent?.traceparent));
  assert.equal(span.status, 'error');
  assert.equal(span.statusMessage, 'no endpoint');
  assert.equal(span.attributes['shoal.error.code'], 'UNAVAILABLE');

  let served: CallMeta | undefined;
  const inboundChain = composeChain<InboundCall, unknown>([plugin.inboundCall!], async (call) => {
    served = call.meta;
    throw new Error('boom');
  });
  await assert.rejects(inboundChain(inbound({ requestId: 'r5' })), /boom/);
  const serverSpan = spanById(spanIdOf(served?.traceparent));
  assert.equal(serverSpan.status, 'error');
  assert.equal(serverSpan.attributes['shoal.error.code'], 'INTERNAL');
});

test('events get PRODUCER and CONSUMER spans linked through meta', async () => {
  let delivered: EventMessage | undefined;
  const consume = composeChain<EventMessage, void>([plugin.inboundEvent!], async (message) => {
    delivered = message;
  });
  const emit = composeChain<EventMessage, void>([plugin.outboundEvent!], async (message) => {
    // The transport hands a copy of the wire meta to the receiving side.
    await consume({ ...message, meta: { ...message.meta }, target: { service: 'stats', version: 1 } });
  });
  await emit({ event: 'link.clicked', payload: {}, meta: { requestId: 'e1', traceparent: incoming }, mode: 'emit' });

  const consumer = spanById(spanIdOf(delivered?.meta.traceparent));
  assert.equal(consumer.kind, 'consumer');
  assert.equal(consumer.traceId, incomingTraceId);
  assert.equal(consumer.attributes['rpc.service'], 'stats');
  const producer = spanById(consumer.parentSpanId);
  assert.equal(producer.kind, 'producer');
  assert.equal(producer.parentSpanId, incomingSpanId);
  assert.equal(producer.attributes['messaging.destination.name'], 'link.clicked');
});

test('new root traceparents are valid, distinct, and give ratio sampling their trace id\'s last 32 bits', () => {
  const seen = new Set<string>();
  // More than one pool's worth, so a refill is crossed.
  for (let i = 0; i < 3000; i++) {
    const traceparent = newRootTraceParent();
    assert.match(traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
    assert.deepEqual(parseTraceParent(traceparent), { traceId: traceparent.slice(3, 35), sampled: false });
    assert.equal(traceIdLowBits(traceparent), Number.parseInt(traceparent.slice(27, 35), 16));
    seen.add(traceparent.slice(3, 35));
    seen.add(traceparent.slice(36, 52));
  }
  assert.equal(seen.size, 6000, 'every trace id and span id differs');
  for (const traceId of ['0'.repeat(32), 'f'.repeat(32), incomingTraceId]) {
    assert.equal(traceIdLowBits(`00-${traceId}-${incomingSpanId}-00`), Number.parseInt(traceId.slice(24), 16));
  }
});

test('new traces are recorded at the sampler ratio; the others still carry an unsampled traceparent', async () => {
  const sampled = (ratio: number): { recorded: number; flags: Set<string> } => {
    const sampler = new TraceSampler({ ratio, perSecond: 0 });
    const before = new Set(recentSpans().map((s) => s.spanId));
    const flags = new Set<string>();
    let recorded = 0;
    const chain = composeChain<OutboundCall, unknown>([tracingPlugin({ sampler }).outboundCall!], (call) => {
      flags.add(call.meta.traceparent!.slice(-2));
      if (!before.has(spanIdOf(call.meta.traceparent) ?? '') && traceIdOf(call.meta.traceparent)) {
        if (call.meta.traceparent!.endsWith('-01')) recorded++;
      }
      return Promise.resolve();
    });
    for (let i = 0; i < 4000; i++) void chain(outbound({ requestId: `s${i}` }));
    return { recorded, flags };
  };
  assert.deepEqual(sampled(0), { recorded: 0, flags: new Set(['00']) });
  assert.deepEqual(sampled(1), { recorded: 4000, flags: new Set(['01']) });
  const quarter = sampled(0.25).recorded / 4000;
  assert.ok(quarter > 0.22 && quarter < 0.28, `about a quarter recorded, got ${quarter}`);
});

test('the per-second allowance records the first new traces of each second whatever the ratio', () => {
  const sampler = new TraceSampler({ ratio: 0, perSecond: 3 });
  const decisions = Array.from({ length: 10 }, () => sampler.sampleRoot(0xffffffff));
  assert.deepEqual(decisions, [true, true, true, false, false, false, false, false, false, false]);
});

test('recentSpans keeps only the last spans up to its capacity', async () => {
  await tracing.shutdown();
  const small = startTracing({ serviceName: 'test', nodeId: 'node-b', capacity: 2 });
  const chain = composeChain<OutboundCall, unknown>([tracingPlugin().outboundCall!], async () => undefined);
  for (const action of ['first', 'second', 'third']) await chain(outbound({ requestId: action }, action));
  assert.deepEqual(
    recentSpans().map((s) => s.attributes['rpc.method']),
    ['second', 'third'],
  );
  assert.equal(recentSpans()[0].nodeId, 'node-b');
  await small.shutdown();
  assert.deepEqual(recentSpans(), []);
});
