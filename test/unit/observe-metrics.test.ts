import assert from 'node:assert/strict';
import { test } from 'node:test';
import { composeChain, ShoalError } from '../../src/core/index.ts';
import type { EventMessage, InboundCall, OutboundCall } from '../../src/core/index.ts';
import { createMetrics } from '../../src/observe/index.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `well-formed sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample with this name whose labels include the given ones. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  const found = samples.filter(
    (s) => s.name === name && Object.entries(labels).every(([key, value]) => s.labels[key] === value),
  );
  assert.ok(found.length <= 1, `at most one ${name} sample matches ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

function inbound(action: string): InboundCall {
  return { service: 'links', version: 2, action, params: {}, meta: { requestId: 'r' } };
}

function outbound(action: string): OutboundCall {
  return {
    service: 'users',
    version: 1,
    action,
    params: {},
    meta: { requestId: 'r' },
    idempotent: true,
    timeoutMs: 1000,
    exclude: new Set(),
    attempts: 0,
  };
}

function event(name: string): EventMessage {
  return { event: name, payload: {}, meta: { requestId: 'e' }, mode: 'emit' };
}

test('metrics plugin counts calls, errors by code, latency and events per label set', async () => {
  const metrics = createMetrics({ nodeId: 'node-1', role: 'node' });
  const plugin = metrics.metricsPlugin();

  const serve = composeChain<InboundCall, unknown>([plugin.inboundCall!], async (call) => {
    if (call.action === 'invalid') throw new ShoalError('VALIDATION', 'bad params');
    if (call.action === 'crash') throw new Error('unexpected');
    return 'ok';
  });
  for (let i = 0; i < 3; i++) await serve(inbound('create'));
  await serve(inbound('resolve'));
  await assert.rejects(serve(inbound('invalid')), /bad params/);
  await assert.rejects(serve(inbound('invalid')), /bad params/);
  await assert.rejects(serve(inbound('crash')), /unexpected/);

  const send = composeChain<OutboundCall, unknown>([plugin.outboundCall!], async (call) => {
    if (call.action === 'slow') throw new ShoalError('TIMEOUT', 'took too long');
    return 'ok';
  });
  await send(outbound('get'));
  await send(outbound('get'));
  await assert.rejects(send(outbound('slow')), /took too long/);

  const emit = composeChain<EventMessage, void>([plugin.outboundEvent!], async () => undefined);
  const receive = composeChain<EventMessage, void>([plugin.inboundEvent!], async () => undefined);
  await emit(event('link.clicked'));
  await emit(event('link.clicked'));
  await receive(event('link.created'));

  const text = await metrics.metricsText();
  const samples = parseSamples(text);
  const links = { service: 'links', version: '2', node: 'node-1', role: 'node' };
  const users = { service: 'users', version: '1', node: 'node-1', role: 'node' };

  assert.equal(valueOf(samples, 'shoal_inbound_calls_total', { ...links, action: 'create' }), 3);
  assert.equal(valueOf(samples, 'shoal_inbound_calls_total', { ...links, action: 'resolve' }), 1);
  assert.equal(valueOf(samples, 'shoal_inbound_calls_total', { ...links, action: 'invalid' }), 2);
  assert.equal(valueOf(samples, 'shoal_inbound_errors_total', { ...links, action: 'invalid', code: 'VALIDATION' }), 2);
  assert.equal(valueOf(samples, 'shoal_inbound_errors_total', { ...links, action: 'crash', code: 'INTERNAL' }), 1);
  assert.equal(valueOf(samples, 'shoal_inbound_errors_total', { ...links, action: 'create' }), undefined);
  assert.equal(valueOf(samples, 'shoal_inbound_call_duration_seconds_count', { ...links, action: 'create' }), 3);
  assert.equal(valueOf(samples, 'shoal_inbound_call_duration_seconds_bucket', { ...links, action: 'create', le: '+Inf' }), 3);

  assert.equal(valueOf(samples, 'shoal_outbound_calls_total', { ...users, action: 'get' }), 2);
  assert.equal(valueOf(samples, 'shoal_outbound_calls_total', { ...users, action: 'slow' }), 1);
  assert.equal(valueOf(samples, 'shoal_outbound_errors_total', { ...users, action: 'slow', code: 'TIMEOUT' }), 1);
  assert.equal(valueOf(samples, 'shoal_outbound_call_duration_seconds_count', { ...users, action: 'get' }), 2);
  // Directions stay apart: outbound calls never show up as inbound ones.
  assert.equal(valueOf(samples, 'shoal_inbound_calls_total', { service: 'users' }), undefined);

  assert.equal(valueOf(samples, 'shoal_events_emitted_total', { event: 'link.clicked', node: 'node-1' }), 2);
  assert.equal(valueOf(samples, 'shoal_events_received_total', { event: 'link.created', node: 'node-1' }), 1);
  assert.equal(valueOf(samples, 'shoal_events_received_total', { event: 'link.clicked' }), undefined);

  const lag = valueOf(samples, 'nodejs_eventloop_lag_seconds', { node: 'node-1', role: 'node' });
  assert.equal(typeof lag, 'number');
  assert.match(metrics.contentType, /^text\/plain/);
});

test('each Metrics has its own registry and labels', async () => {
  const a = createMetrics({ nodeId: 'a', role: 'node' });
  const b = createMetrics({ nodeId: 'b', role: 'gateway' });
  const serve = composeChain<InboundCall, unknown>([a.metricsPlugin().inboundCall!], async () => 'ok');
  await serve(inbound('create'));

  const fromA = parseSamples(await a.metricsText());
  const fromB = parseSamples(await b.metricsText());
  assert.equal(valueOf(fromA, 'shoal_inbound_calls_total', { action: 'create', node: 'a' }), 1);
  assert.equal(valueOf(fromB, 'shoal_inbound_calls_total', { action: 'create' }), undefined);
  assert.ok(fromB.some((s) => s.name === 'nodejs_eventloop_lag_seconds' && s.labels.node === 'b' && s.labels.role === 'gateway'));
});

test('series past maxSeries fold into one overflow series', async () => {
  const metrics = createMetrics({ nodeId: 'n', role: 'node', maxSeries: 2 });
  const serve = composeChain<InboundCall, unknown>([metrics.metricsPlugin().inboundCall!], async () => 'ok');
  for (const action of ['a', 'b', 'c', 'd']) await serve(inbound(action));
  const samples = parseSamples(await metrics.metricsText());
  assert.equal(valueOf(samples, 'shoal_inbound_calls_total', { action: 'a' }), 1);
  assert.equal(valueOf(samples, 'shoal_inbound_calls_total', { action: 'c' }), undefined);
  assert.equal(valueOf(samples, 'shoal_inbound_calls_total', { service: '_other', action: '_other' }), 2);

  const emit = composeChain<EventMessage, void>([metrics.metricsPlugin().outboundEvent!], async () => undefined);
  for (const name of ['x', 'y', 'z', 'w']) await emit(event(name));
  const after = parseSamples(await metrics.metricsText());
  assert.equal(valueOf(after, 'shoal_events_emitted_total', { event: 'y' }), 1);
  assert.equal(valueOf(after, 'shoal_events_emitted_total', { event: 'z' }), undefined);
  assert.equal(valueOf(after, 'shoal_events_emitted_total', { event: '_other' }), 2);
});
