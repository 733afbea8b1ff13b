import { formatDurationUs } from './units.js';

/**
 * Regression rules against a baseline run, for performance CI: `p99(*) +10%` fails when an op's
 * p99 grew by more than 10%; `rate(*) -5%` fails when its throughput fell by more than 5%. The
 * sign says which direction is worse.
 */
export interface RegressionRule {
  text: string;
  metric: LatencyMetric | 'rate' | 'error_rate';
  /** An op name, or `*` for every op present in both runs (the `*` row included). */
  op: string;
  /** +1: an increase is a regression; -1: a decrease is. */
  worse: 1 | -1;
  /** Allowed relative change, as a fraction (0.1 for 10%). */
  allowed: number;
}

type LatencyMetric = 'p50' | 'p90' | 'p99' | 'p999' | 'max' | 'mean';
const LATENCY_METRICS: readonly string[] = ['p50', 'p90', 'p99', 'p999', 'max', 'mean'];

export const DEFAULT_REGRESSION_RULES = ['p99(*) +10%', 'rate(*) -5%'];

const RULE = /^\s*([a-z_0-9.]+)\s*\(\s*([a-z*-]+)\s*\)\s*([+-])\s*(\d+(?:\.\d+)?)\s*%\s*$/;

/** A rule, or what is wrong with its text. */
export function parseRegressionRule(text: string): RegressionRule | string {
  const match = RULE.exec(text);
  if (match === null)
    return `cannot read regression rule "${text}": expected e.g. "p99(*) +10%" or "rate(transfer) -5%"`;
  const [, rawMetric, op, sign, pct] = match as unknown as [string, string, string, string, string];
  const metric = rawMetric === 'p99.9' ? 'p999' : rawMetric;
  if (!LATENCY_METRICS.includes(metric) && metric !== 'rate' && metric !== 'error_rate') {
    return `unknown metric "${rawMetric}" in "${text}" (known: p50, p90, p99, p99.9, max, mean, rate, error_rate)`;
  }
  return {
    text: text.trim(),
    metric: metric as RegressionRule['metric'],
    op,
    worse: sign === '+' ? 1 : -1,
    allowed: Number(pct) / 100,
  };
}

/** The per-op figures a comparison reads: the `ops` rows of a run's JSON report. */
export interface ComparableOp {
  op: string;
  count: number;
  ok: number;
  throughputPerS: number;
  latencyUs: Record<LatencyMetric, number>;
}

export interface ComparisonRow {
  rule: string;
  op: string;
  metric: string;
  baseline: number;
  current: number;
  /** Relative change, current against baseline (0.12 = 12% more). */
  change: number;
  regressed: boolean;
}

export interface Comparison {
  baselineFile: string;
  rows: ComparisonRow[];
  regressed: boolean;
  /** Ops a rule names that one of the runs does not have. */
  missing: string[];
}

function value(op: ComparableOp, metric: RegressionRule['metric']): number {
  if (metric === 'rate') return op.throughputPerS;
  if (metric === 'error_rate') return op.count === 0 ? 0 : (op.count - op.ok) / op.count;
  return op.latencyUs[metric];
}

export function compareRuns(
  baselineFile: string,
  baseline: readonly ComparableOp[],
  current: readonly ComparableOp[],
  rules: readonly RegressionRule[],
): Comparison {
  const rows: ComparisonRow[] = [];
  const missing: string[] = [];
  for (const rule of rules) {
    const ops = rule.op === '*' ? current.map((o) => o.op) : [rule.op];
    for (const name of ops) {
      const before = baseline.find((o) => o.op === name);
      const now = current.find((o) => o.op === name);
      if (before === undefined || now === undefined) {
        if (rule.op !== '*')
          missing.push(
            `${rule.text}: no "${name}" in the ${before === undefined ? 'baseline' : 'current run'}`,
          );
        continue;
      }
      const b = value(before, rule.metric);
      const c = value(now, rule.metric);
      // From zero, any growth is infinite: compare absolute values then (0 -> 0 is no change).
      const change = b === 0 ? (c === 0 ? 0 : Number.POSITIVE_INFINITY * Math.sign(c)) : (c - b) / b;
      const regressed = rule.worse === 1 ? change > rule.allowed : change < -rule.allowed;
      rows.push({
        rule: rule.text,
        op: name,
        metric: rule.metric,
        baseline: b,
        current: c,
        change,
        regressed,
      });
    }
  }
  return { baselineFile, rows, regressed: rows.some((r) => r.regressed), missing };
}

export function formatComparisonValue(metric: string, v: number): string {
  if (metric === 'rate') return `${v.toFixed(1)}/s`;
  if (metric === 'error_rate') return `${(v * 100).toFixed(2)}%`;
  return formatDurationUs(v);
}

export function formatChange(change: number): string {
  if (!Number.isFinite(change)) return change > 0 ? '+inf%' : '-inf%';
  return `${change >= 0 ? '+' : ''}${(change * 100).toFixed(1)}%`;
}
