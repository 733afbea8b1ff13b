import { LIMITS } from '../domain/limits.js';

/** How often background work on disk runs (tests shorten the pauses). */
export interface SliceTiming {
  sliceMs?: number;
  /** Between slices while there is work left. */
  pauseMs?: number;
  /** After a slice that found nothing more to do. */
  restMs?: number;
}

/**
 * Runs `slice(budgetMs)` on a timer until stopped: short slices `pauseMs` apart while it reports
 * work left, then a rest. The timer never keeps a process alive on its own, and nothing runs in
 * the same turn as start(), so opening storage never blocks on background work.
 */
export class BackgroundSlices {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly slice: (budgetMs: number) => boolean,
    private readonly timing: SliceTiming,
  ) {}

  start(): void {
    this.schedule(this.timing.pauseMs ?? LIMITS.diskSweepPauseMs);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const { sliceMs = LIMITS.txidSweepSliceMs, pauseMs = LIMITS.diskSweepPauseMs } = this.timing;
      const done = this.slice(sliceMs);
      this.schedule(done ? (this.timing.restMs ?? LIMITS.diskSweepRestMs) : pauseMs);
    }, delayMs);
    this.timer.unref();
  }
}
