import type { SeededRandom } from './seeded-random.js';

/** One stage of a rate ramp: the rate moves linearly to `targetPerS` over `durationMs`. */
export interface RateStage {
  durationMs: number;
  targetPerS: number;
}

/** k6's ramping arrival rate: from `startPerS`, each stage in turn. */
export interface RateRamp {
  startPerS: number;
  stages: readonly RateStage[];
}

/** What a ramp's schedule offered and dropped in each stage (an open group's per-stage report). */
export interface StageCounts {
  startMs: number;
  endMs: number;
  fromPerS: number;
  toPerS: number;
  offered: number;
  dropped: number;
}

/** A stage in the schedule's own units: times in ms, rates per ms, `cumStart` sends before it. */
interface Segment {
  stage: number;
  startMs: number;
  durationMs: number;
  r0: number;
  r1: number;
  cumStart: number;
  cumEnd: number;
}

/**
 * Open-loop send times, in milliseconds from the start of the group. Uniform: exactly one send
 * every 1000/rate ms. Poisson: exponential gaps with that mean (independent arrivals, as real
 * clients produce). Latency is measured from these times, not from when a send actually left,
 * so a stalled server cannot hide its stall by slowing the generator (no coordinated omission).
 *
 * A ramp (piecewise-linear rate r(t)) integrates the rate: Λ(t) = ∫r is the number of sends due
 * by t, and send k is due where Λ(t) = k (uniform) or where Λ(t) reaches a sum of k Exp(1) draws
 * (Poisson: the time-rescaled process). Each stage is a quadratic in time, solved exactly; after
 * the last stage nothing is due (Infinity).
 */
export class ArrivalSchedule {
  private dueMs = 0;
  private count = 0;
  private readonly segments: Segment[] | undefined;
  private readonly counts: StageCounts[] | undefined;
  private segment = 0;
  /** Poisson on a ramp: the running sum of Exp(1) draws. */
  private cumulative = 0;
  /** Stage of the last due time returned (-1: none, or past the end). */
  private lastStage = -1;

  constructor(
    private readonly rate: number | RateRamp,
    private readonly arrivals: 'uniform' | 'poisson',
    private readonly random: SeededRandom,
  ) {
    if (typeof rate === 'number') return;
    this.segments = [];
    this.counts = [];
    let startMs = 0;
    let cum = 0;
    let fromPerS = rate.startPerS;
    for (const [stage, s] of rate.stages.entries()) {
      const r0 = fromPerS / 1000;
      const r1 = s.targetPerS / 1000;
      const cumEnd = cum + ((r0 + r1) / 2) * s.durationMs;
      if (s.durationMs > 0)
        this.segments.push({ stage, startMs, durationMs: s.durationMs, r0, r1, cumStart: cum, cumEnd });
      this.counts.push({
        startMs,
        endMs: startMs + s.durationMs,
        fromPerS,
        toPerS: s.targetPerS,
        offered: 0,
        dropped: 0,
      });
      startMs += s.durationMs;
      cum = cumEnd;
      fromPerS = s.targetPerS;
    }
  }

  /** The due time of the next send. */
  next(): number {
    if (this.segments !== undefined) return this.nextOnRamp(this.segments);
    const meanGapMs = 1000 / (this.rate as number);
    if (this.arrivals === 'uniform') {
      // Multiply instead of accumulating so rounding error does not drift over millions of sends.
      return this.count++ * meanGapMs;
    }
    const due = this.dueMs;
    // Inverse-CDF sampling of Exp(rate); 1 - u is in (0, 1], so the log is finite.
    this.dueMs += -Math.log(1 - this.random.next()) * meanGapMs;
    this.count++;
    return due;
  }

  /** The send due last was dropped (too many in flight): counted against its stage. */
  dropped(): void {
    if (this.counts !== undefined && this.lastStage >= 0) this.counts[this.lastStage]!.dropped++;
  }

  /** A ramp's offered and dropped sends per stage (undefined for a constant rate). */
  stageCounts(): StageCounts[] | undefined {
    return this.counts?.map((c) => ({ ...c }));
  }

  private nextOnRamp(segments: Segment[]): number {
    let target: number;
    if (this.arrivals === 'uniform') target = this.count++;
    else {
      target = this.cumulative;
      this.cumulative += -Math.log(1 - this.random.next());
    }
    // Stages that hold fewer sends than the target (a rate of 0 holds none) pass without one.
    while (this.segment < segments.length && target >= segments[this.segment]!.cumEnd) this.segment++;
    const s = segments[this.segment];
    if (s === undefined) {
      this.lastStage = -1;
      return Number.POSITIVE_INFINITY;
    }
    // Solve cumStart + r0 t + (r1 - r0) t^2 / (2 d) = target for t in [0, d], in the form that
    // stays exact when the rate is flat (a = 0) or starts from 0 (b = 0).
    const x = target - s.cumStart;
    const a = (s.r1 - s.r0) / (2 * s.durationMs);
    const b = s.r0;
    const t = x <= 0 ? 0 : (2 * x) / (b + Math.sqrt(Math.max(0, b * b + 4 * a * x)));
    this.lastStage = s.stage;
    this.counts![s.stage]!.offered++;
    return s.startMs + Math.min(t, s.durationMs);
  }
}

/** The rate a group's schedule follows: its constant rate, or its ramp. */
export function scheduleRate(load: {
  rate_per_s: number;
  start_rate?: number;
  stages?: readonly { duration: number; target: number }[];
}): number | RateRamp {
  if (load.stages === undefined) return load.rate_per_s;
  return {
    startPerS: load.start_rate ?? 0,
    stages: load.stages.map((s) => ({ durationMs: s.duration, targetPerS: s.target })),
  };
}
