/**
 * A prom-client Histogram whose observations are kept by the caller in plain arrays and read
 * only when the registry is scraped. It registers, names, labels and prints exactly like any
 * prom-client histogram; what it skips is prom-client's per-observation label hashing.
 */
import { Histogram, type HistogramConfiguration } from 'prom-client';

/** One label set's observations, as the owner keeps them. */
export interface HistogramSeries<L extends string> {
  readonly labels: Record<L, string>;
  readonly count: number;
  readonly sum: number;
  /** Observations per bucket, not cumulative, in bucket order; one extra slot for above the last bound. */
  readonly buckets: ArrayLike<number>;
}

interface ExportedValue {
  labels: Record<string, string | number>;
  sharedLabels: Record<string, string>;
  value: number;
  metricName: string;
}

export interface SeriesHistogramConfiguration<L extends string> extends HistogramConfiguration<L> {
  buckets: number[];
  /** Read at every scrape; series that saw no observation yet are left out. */
  series: ReadonlyArray<HistogramSeries<L>>;
}

export class SeriesHistogram<L extends string> extends Histogram<L> {
  readonly #bounds: readonly number[];
  readonly #series: ReadonlyArray<HistogramSeries<L>>;
  readonly #name: string;
  readonly #help: string;

  constructor(configuration: SeriesHistogramConfiguration<L>) {
    const { series, ...histogram } = configuration;
    super(histogram);
    this.#bounds = [...configuration.buckets];
    this.#series = series;
    this.#name = configuration.name;
    this.#help = configuration.help;
  }

  /** What the registry prints: series labels apart from `le`, as prom-client's own histogram hands them over. */
  async getForPromString() {
    const bucketName = `${this.#name}_bucket`;
    const values: ExportedValue[] = [];
    for (const series of this.#series) {
      if (series.count === 0) continue;
      const shared = series.labels as Record<string, string>;
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += series.buckets[i];
        values.push({ labels: { le: this.#bounds[i] }, sharedLabels: shared, value: cumulative, metricName: bucketName });
      }
      values.push(
        { labels: { le: '+Inf' }, sharedLabels: shared, value: series.count, metricName: bucketName },
        { labels: {}, sharedLabels: shared, value: series.sum, metricName: `${this.#name}_sum` },
        { labels: {}, sharedLabels: shared, value: series.count, metricName: `${this.#name}_count` },
      );
    }
    return { name: this.#name, help: this.#help, type: 'histogram', values, aggregator: 'sum' };
  }

  /** The same values with every label on the value itself, as prom-client's get() gives them. */
  override async get(): ReturnType<Histogram<L>['get']> {
    const data = await this.getForPromString();
    const values = data.values.map(({ labels, sharedLabels, value, metricName }) => ({
      labels: { ...labels, ...sharedLabels } as Partial<Record<L, string | number>>,
      value,
      metricName,
    }));
    return { ...data, values } as unknown as Awaited<ReturnType<Histogram<L>['get']>>;
  }
}
