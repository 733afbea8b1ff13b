import type postgres from 'postgres';

/** Rows of ledger_flush_barrier (migration 3): concurrent barriers rarely pick the same one. */
export const FLUSH_BARRIER_SLOTS = 64;

/**
 * Makes earlier commits durable before anything derived from them is answered.
 *
 * Group transactions commit with `synchronous_commit = off` (docs/postgres.md, "Decision: when a
 * group's commit is flushed"): COMMIT returns, and releases the head row, before its WAL is on
 * disk, so the next group need not wait for this one's flush. `reached()` resolves once a
 * transaction *started after the call* committed synchronously: a synchronous commit flushes the
 * WAL up to its own commit record, and WAL is flushed in order, so every commit that was visible
 * before the call (this process's or another's) is then on disk. One barrier serves every caller
 * waiting when it starts; at most `maxInFlight` run at once (PostgreSQL merges their flushes).
 *
 * The barrier is a one-statement transaction (`UPDATE ledger_flush_barrier ...`, an implicit
 * COMMIT at the server's own synchronous_commit level): one round trip, one flush.
 */
export class FlushBarrier {
  private waiting: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private inFlight = 0;
  /** Barriers run (each one synchronous commit). */
  barriers = 0;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly maxInFlight: number,
    /** The work of one barrier; tests replace it to see what waits for it. */
    private readonly flush: (sql: postgres.Sql) => Promise<unknown> = flushBarrier,
  ) {}

  /** Resolves when everything committed before this call is durable; rejects if the barrier failed. */
  reached(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.start();
    });
  }

  private start(): void {
    if (this.waiting.length === 0 || this.inFlight >= this.maxInFlight) return;
    // Only callers already waiting: a caller arriving after this point needs a later barrier.
    const batch = this.waiting;
    this.waiting = [];
    this.inFlight++;
    this.barriers++;
    this.flush(this.sql)
      .then(
        () => {
          for (const w of batch) w.resolve();
        },
        (err: unknown) => {
          for (const w of batch) w.reject(err);
        },
      )
      .finally(() => {
        this.inFlight--;
        this.start();
      });
  }
}

/**
 * One barrier's statement, its parameter the row it updates: random, so concurrent barriers
 * rarely wait for each other (the reads' barriers here, the groups' in pg-write-group.ts).
 */
export const FLUSH_BARRIER_SQL = 'UPDATE ledger_flush_barrier SET n = n + 1 WHERE slot = $1';

export function barrierSlot(): number {
  return Math.floor(Math.random() * FLUSH_BARRIER_SLOTS);
}

/** One barrier: a one-row update committed at the server's synchronous_commit level. */
export function flushBarrier(sql: postgres.Sql | postgres.ReservedSql): Promise<unknown> {
  return sql.unsafe(FLUSH_BARRIER_SQL, [barrierSlot()], { prepare: true });
}
