import { HARNESS_LIMITS } from './harness-limits.js';
import type { OpStats } from './op-stats.js';

/**
 * One op's figures over time, one column per figure and one entry per interval (about a second),
 * ready for a plot. Latencies are of the calls answered in that interval, in microseconds; null
 * where the interval had no answered call.
 */
export interface IntervalSeries {
  op: string;
  /** End of each interval, seconds since the run started. */
  endS: number[];
  /** Length of each interval in seconds (timers fire late on a busy loop: rates divide by this). */
  spanS: number[];
  count: number[];
  errors: number[];
  /** Open loop: sends that fell due in the interval, and those dropped. */
  offered: number[];
  dropped: number[];
  p50Us: (number | null)[];
  p99Us: (number | null)[];
  maxUs: (number | null)[];
}

interface Previous {
  count: number;
  errors: number;
  offered: number;
  dropped: number;
}

/**
 * Samples the run's cumulative per-op statistics once a second and keeps the difference to the
 * previous sample: a second's calls and their latency distribution (each op's interval histogram,
 * read and reset at every tick). A call's own path only records one more value; a tick reads a
 * few percentiles and allocates no histogram, so it does not hold up the generator's sends.
 */
export class IntervalSampler {
  private readonly previous = new Map<string, Previous>();
  private readonly series = new Map<string, IntervalSeries>();
  private timer: NodeJS.Timeout | undefined;
  private lastNs: bigint;
  /** Shared by every op's series (each gets a copy). */
  private readonly endS: number[] = [];
  private readonly spanS: number[] = [];
  /** Set once the sample cap is reached: the series then covers the start of the run only. */
  capped = false;

  constructor(
    private readonly stats: ReadonlyMap<string, OpStats>,
    private readonly nowNs: () => bigint,
    private readonly intervalMs: number = HARNESS_LIMITS.intervalSampleMs,
  ) {
    this.lastNs = nowNs();
  }

  start(): void {
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
  }

  /** Takes the last (partial) interval and returns every op's series. */
  stop(): IntervalSeries[] {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return [...this.series.values()].map((s) => ({ ...s, endS: [...this.endS], spanS: [...this.spanS] }));
  }

  /** One interval for every op seen so far (exported for tests, which drive it without a timer). */
  sample(): void {
    const nowNs = this.nowNs();
    const spanS = Number(nowNs - this.lastNs) / 1e9;
    // A sample right after the last one (stop() just after a tick) holds nothing worth a point.
    if (spanS <= 0.001) return;
    if (this.endS.length >= HARNESS_LIMITS.maxIntervalSamples) {
      this.capped = true;
      return;
    }
    this.lastNs = nowNs;
    this.endS.push(round3(Number(nowNs) / 1e9));
    this.spanS.push(round3(spanS));
    for (const [op, stats] of this.stats) {
      let prev = this.previous.get(op);
      if (prev === undefined) {
        prev = { count: 0, errors: 0, offered: 0, dropped: 0 };
        this.previous.set(op, prev);
      }
      let s = this.series.get(op);
      if (s === undefined) {
        s = {
          op,
          endS: [],
          spanS: [],
          count: [],
          errors: [],
          offered: [],
          dropped: [],
          p50Us: [],
          p99Us: [],
          maxUs: [],
        };
        // An op first seen late gets empty intervals before it, so every column lines up in time.
        for (let i = 0; i < this.endS.length - 1; i++) {
          for (const column of [s.count, s.errors, s.offered, s.dropped]) column.push(0);
          for (const column of [s.p50Us, s.p99Us, s.maxUs]) column.push(null);
        }
        this.series.set(op, s);
      }
      const interval = stats.intervalLatencyUs;
      const empty = interval.totalCount === 0;
      s.count.push(stats.count - prev.count);
      s.errors.push(stats.errors - prev.errors);
      s.offered.push(stats.offered - prev.offered);
      s.dropped.push(stats.dropped - prev.dropped);
      s.p50Us.push(empty ? null : interval.getValueAtPercentile(50));
      s.p99Us.push(empty ? null : interval.getValueAtPercentile(99));
      s.maxUs.push(empty ? null : interval.maxValue);
      interval.reset();
      prev.count = stats.count;
      prev.errors = stats.errors;
      prev.offered = stats.offered;
      prev.dropped = stats.dropped;
    }
  }
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
