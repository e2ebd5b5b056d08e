/**
 * Head sampling: whether a trace is recorded is decided once, where it starts, and travels in
 * the traceparent's sampled flag; every later hop follows its parent. Unsampled calls still
 * carry a traceparent, so logs and responses name their trace, but no span is built for them.
 *
 * Defaults, both overridable per process by environment:
 * - SHOAL_TRACE_SAMPLE_RATIO (default 0.01): the share of new traces recorded beyond the
 *   per-second allowance; at high call rates a full span on both sides of every tenth call
 *   was a tenth of the RPC cost.
 * - SHOAL_TRACE_SAMPLES_PER_SECOND (default 10): new traces recorded each second regardless
 *   of the ratio, so a lightly used cluster (a developer's, a test's) keeps every trace while
 *   a busy one records about one call in a hundred.
 * A ratio of 1 records everything; 0 with 0 per second records only traces a caller marked sampled.
 */
import { createContextKey, isSpanContextValid, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace-base';
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace-base';
import { wallClockMs } from '../core/index.ts';

export interface SamplingOptions {
  /** Share of new traces recorded, 0 to 1. */
  ratio?: number;
  /** New traces recorded each second before the ratio applies. */
  perSecond?: number;
}

const defaultSampleRatio = 0.01;
const defaultSamplesPerSecond = 10;

function fromEnv(name: string, fallback: number, valid: (n: number) => boolean, what: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!valid(value)) throw new Error(`${name} must be ${what}, got ${JSON.stringify(raw)}`);
  return value;
}

/** Sampling settings from SHOAL_TRACE_SAMPLE_RATIO and SHOAL_TRACE_SAMPLES_PER_SECOND, else the defaults. */
function samplingFromEnv(): Required<SamplingOptions> {
  return {
    ratio: fromEnv('SHOAL_TRACE_SAMPLE_RATIO', defaultSampleRatio, (n) => n >= 0 && n <= 1, 'a number from 0 to 1'),
    perSecond: fromEnv('SHOAL_TRACE_SAMPLES_PER_SECOND', defaultSamplesPerSecond, (n) => Number.isInteger(n) && n >= 0, 'a whole number >= 0'),
  };
}

/** Marks a context whose new root span was already chosen for recording by the tracing plugin. */
const sampledRootKey = createContextKey('shoal.sampled-root');

/**
 * The one sampler of a process: the tracing plugin asks it directly, the OpenTelemetry SDK asks it
 * for spans started elsewhere (the gateway's), so both draw on the same per-second allowance.
 */
export class TraceSampler implements Sampler {
  /** Context for starting a root span this sampler already chose to record. */
  static readonly sampledRoot: Context = ROOT_CONTEXT.setValue(sampledRootKey, true);

  readonly ratio: number;
  readonly perSecond: number;
  /** Compared with 32 random bits of the trace id, as OpenTelemetry's trace-id ratio sampler does. */
  readonly #threshold: number;
  #windowStart = 0;
  #takenInWindow = 0;

  constructor(options: SamplingOptions = {}) {
    const env = options.ratio === undefined || options.perSecond === undefined ? samplingFromEnv() : undefined;
    this.ratio = options.ratio ?? env!.ratio;
    this.perSecond = options.perSecond ?? env!.perSecond;
    this.#threshold = Math.floor(this.ratio * 0x1_0000_0000);
  }

  /** Whether a new trace whose id carries these 32 random bits is recorded. */
  sampleRoot(traceIdBits: number): boolean {
    if (this.perSecond > 0) {
      const now = wallClockMs();
      if (now - this.#windowStart >= 1000) {
        this.#windowStart = now;
        this.#takenInWindow = 0;
      }
      if (this.#takenInWindow < this.perSecond) {
        this.#takenInWindow++;
        return true;
      }
    }
    return traceIdBits >>> 0 < this.#threshold;
  }

  shouldSample(context: Context, traceId: string): SamplingResult {
    if (context.getValue(sampledRootKey) === true) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    const parent = trace.getSpanContext(context);
    if (parent && isSpanContextValid(parent)) {
      return { decision: parent.traceFlags & TraceFlags.SAMPLED ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
    }
    const bits = Number.parseInt(traceId.slice(-8), 16);
    return { decision: this.sampleRoot(bits) ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return `ShoalSampler{parent-based, ratio=${this.ratio}, perSecond=${this.perSecond}}`;
  }
}
