/** What `--db-commit auto` judges its flushes by (LIMITS.pgAutoCommit*; tests pass their own). */
export interface AutoCommitOptions {
  /** Synchronous commits measured together; the choice is revisited once per full window. */
  readonly windowGroups: number;
  /** A window whose median flush is above this (microseconds) switches to asynchronous commits. */
  readonly slowFlushUs: number;
  /** A window whose median flush is below this switches back to synchronous commits. */
  readonly fastFlushUs: number;
}

/**
 * `--db-commit auto`: picks, for each group, whether its COMMIT waits for its own WAL flush
 * (synchronous, as `per-group`) or returns at once and the group is answered after a flush barrier
 * (as `overlap`). docs/postgres.md, "Decision: when a group's commit is flushed", option E.
 *
 * A synchronous group holds the head row through its flush, so groups go one flush at a time:
 * fine while a flush is a fraction of a group's cycle, a collapse when the disk is slow. Every
 * synchronous commit a group makes is timed (synchronous: its COMMIT, from the answer of the
 * statement before it; asynchronous: its barrier, from the COMMIT's answer), so the measure goes
 * on in both states and no probe group is needed. Once per window the median decides; the two
 * thresholds are apart so that a flush time near one of them does not flip the choice every window.
 */
export class AutoCommit {
  private window: number[] = [];
  private asyncNow = false;
  /** Times the choice changed (both ways). */
  switches = 0;
  /** The median flush of the last full window, microseconds (undefined before the first). */
  lastMedianUs: number | undefined;

  constructor(private readonly options: AutoCommitOptions) {}

  /** Whether the next group commits asynchronously (and is answered after a barrier). */
  get async(): boolean {
    return this.asyncNow;
  }

  /** One synchronous commit's flush took `us` microseconds (a group's COMMIT or its barrier). */
  measured(us: number): void {
    this.window.push(us);
    if (this.window.length < this.options.windowGroups) return;
    const sorted = this.window.sort((a, b) => a - b);
    const median = sorted[sorted.length >> 1]!;
    this.window = [];
    this.lastMedianUs = median;
    const next = this.asyncNow ? median >= this.options.fastFlushUs : median > this.options.slowFlushUs;
    if (next !== this.asyncNow) this.switches++;
    this.asyncNow = next;
  }
}
