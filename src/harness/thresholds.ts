import { ALL_OPS, REPORT_OPS } from './op-kinds.js';
import { durationUnitMs, formatBytes, formatDurationUs, sizeUnitBytes } from './units.js';

/**
 * k6-like thresholds, e.g. `p99(transfer) < 50ms`, `error_rate(*) < 0.1%`, `rate(*) >= 500/s`,
 * `max_rss < 500MB`. Every value is normalised to one base unit per kind (microseconds, a
 * fraction, ops per second, bytes) so comparisons never mix units.
 */
export type Comparator = '<' | '<=' | '>' | '>=';
export type MetricKind = 'time' | 'fraction' | 'rate' | 'bytes' | 'count';

export interface Threshold {
  text: string;
  /** e.g. 'p99', 'max', 'mean', 'error_rate', 'rate', 'dropped', 'max_rss', 'rss_growth'. */
  metric: string;
  /** Percentile for p<N> metrics, in percent (99.9). */
  percentile?: number;
  /** Operation kind or '*' for op-scoped metrics; undefined for process metrics. */
  op?: string;
  comparator: Comparator;
  /** In the base unit of `kind`. */
  limit: number;
  kind: MetricKind;
}

const OPS: ReadonlySet<string> = new Set([...REPORT_OPS, ALL_OPS]);
/** Metrics about one op kind (or all of them, `*`), and the unit family each takes. */
const OP_METRICS: Record<string, MetricKind> = {
  max: 'time',
  mean: 'time',
  error_rate: 'fraction',
  rate: 'rate',
  dropped: 'count',
};
/** Metrics about the run as a whole. */
const RUN_METRICS: Record<string, MetricKind> = {
  max_rss: 'bytes',
  rss_growth: 'fraction',
  server_heap_growth: 'fraction',
  server_rss_growth: 'fraction',
  server_anon_rss_growth: 'fraction',
  server_elu: 'fraction',
  txid_sweep_ratio: 'fraction',
  /** Fault injection: kills done, and the longest time the server was down (kill to reconnected). */
  kills: 'count',
  max_down: 'time',
};

const SHAPE =
  /^\s*([a-z_]+|p\d+(?:\.\d+)?)\s*(?:\(\s*([a-z*]+)\s*\))?\s*(<=|>=|<|>)\s*(\d+(?:\.\d+)?)\s*([a-zA-Z%/]*)\s*$/;

function normalise(kind: MetricKind, value: number, unit: string): number | string {
  switch (kind) {
    case 'time': {
      const ms = durationUnitMs(unit);
      return ms === undefined ? 'expected a time unit (us, ms, s)' : value * ms * 1_000;
    }
    case 'fraction':
      return unit === '%' ? value / 100 : 'expected a percentage, e.g. 0.1%';
    case 'rate':
      return unit === '/s' ? value : 'expected a rate per second, e.g. 500/s';
    case 'bytes': {
      const bytes = sizeUnitBytes(unit);
      return bytes === undefined ? 'expected a size unit (B, KB, MB, GB)' : value * bytes;
    }
    case 'count':
      return unit === '' ? value : 'expected a plain count (no unit)';
  }
}

/** A Threshold, or a message saying what is wrong with the text. */
export function parseThreshold(text: string): Threshold | string {
  const match = SHAPE.exec(text);
  if (match === null) {
    return `cannot read threshold "${text}": expected e.g. "p99(transfer) < 50ms", "error_rate(*) < 0.1%", "max_rss < 500MB"`;
  }
  const [, metric, op, comparator, number, unit] = match as unknown as [
    string,
    string,
    string | undefined,
    Comparator,
    string,
    string,
  ];
  let kind: MetricKind | undefined;
  let percentile: number | undefined;
  if (/^p\d/.test(metric)) {
    percentile = Number(metric.slice(1));
    if (!(percentile > 0 && percentile <= 100)) return `percentile in "${metric}" must be in (0, 100]`;
    kind = 'time';
  } else kind = OP_METRICS[metric] ?? RUN_METRICS[metric];
  if (kind === undefined) {
    const known = ['p50', 'p99', 'p99.9', ...Object.keys(OP_METRICS), ...Object.keys(RUN_METRICS)].join(', ');
    return `unknown metric "${metric}" (known: ${known})`;
  }
  const opScoped = percentile !== undefined || metric in OP_METRICS;
  if (opScoped && op === undefined)
    return `"${metric}" needs an operation, e.g. ${metric}(transfer) or ${metric}(*)`;
  if (!opScoped && op !== undefined) return `"${metric}" is about the whole run and takes no operation`;
  if (op !== undefined && !OPS.has(op)) return `unknown operation "${op}" (known: ${[...OPS].join(', ')})`;
  const limit = normalise(kind, Number(number), unit);
  if (typeof limit === 'string') return `threshold "${text}": ${limit}`;
  return { text: text.trim(), metric, percentile, op, comparator, limit, kind };
}

export function compare(observed: number, comparator: Comparator, limit: number): boolean {
  switch (comparator) {
    case '<':
      return observed < limit;
    case '<=':
      return observed <= limit;
    case '>':
      return observed > limit;
    case '>=':
      return observed >= limit;
  }
}

export function formatMetric(kind: MetricKind, value: number): string {
  switch (kind) {
    case 'time':
      return formatDurationUs(value);
    case 'fraction':
      return `${(value * 100).toFixed(value < 0.01 ? 3 : 1)}%`;
    case 'rate':
      return `${value.toFixed(1)}/s`;
    case 'bytes':
      return formatBytes(value);
    case 'count':
      return String(value);
  }
}

export interface ThresholdResult {
  threshold: string;
  /** The limit as written, normalised for display. */
  limit: string;
  observed: string;
  /**
   * 'skipped' when the metric cannot be measured in this run (e.g. server RSS of a remote target);
   * 'cannot-judge' when an upper latency limit is missed but lies too close to the instrument's own
   * floor to tell whose the miss is (a limit that is met is met: the instrument only adds latency).
   */
  status: 'pass' | 'fail' | 'skipped' | 'cannot-judge';
  note?: string;
}

/** Supplies a measured value for a threshold, or why it is not measurable. */
export type MetricSource = (threshold: Threshold) => number | { unavailable: string };

/**
 * `floor`: the instrument's own latency at this threshold's percentile, and the factor a limit
 * must clear above it for a miss to be the server's.
 */
export function evaluateThreshold(
  threshold: Threshold,
  source: MetricSource,
  floor?: { us: number; factor: number; what: string },
): ThresholdResult {
  const observed = source(threshold);
  const limit = `${threshold.comparator} ${formatMetric(threshold.kind, threshold.limit)}`;
  if (typeof observed !== 'number') {
    return {
      threshold: threshold.text,
      limit,
      observed: 'n/a',
      status: 'skipped',
      note: observed.unavailable,
    };
  }
  const upperBound = threshold.comparator === '<' || threshold.comparator === '<=';
  const holds = compare(observed, threshold.comparator, threshold.limit);
  const nearFloor =
    floor !== undefined &&
    threshold.kind === 'time' &&
    upperBound &&
    threshold.limit < floor.us * floor.factor;
  if (nearFloor && !holds) {
    return {
      threshold: threshold.text,
      limit,
      observed: formatMetric(threshold.kind, observed),
      status: 'cannot-judge',
      note: `limit is under ${floor.factor}x the instrument's own ${floor.what} ${formatDurationUs(floor.us)}`,
    };
  }
  if (nearFloor) {
    // Every call's measured latency is its server's plus the instrument's own part, which is never
    // negative (timed from the scheduled send, until the answer is handled): the server's own
    // percentile is at most the observed one, so a limit the observed value meets is met.
    return {
      threshold: threshold.text,
      limit,
      observed: formatMetric(threshold.kind, observed),
      status: 'pass',
      note: `observed includes the instrument's own ${floor.what} ${formatDurationUs(floor.us)}: the server's is at most this`,
    };
  }
  return {
    threshold: threshold.text,
    limit,
    observed: formatMetric(threshold.kind, observed),
    status: holds ? 'pass' : 'fail',
  };
}
