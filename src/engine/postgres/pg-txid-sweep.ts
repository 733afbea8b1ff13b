import type postgres from 'postgres';
import { LIMITS } from '../../domain/limits.js';
import type { Clock } from '../clock.js';
import type { Availability } from './pg-availability.js';

/**
 * Deletes expired idempotency records in small batches through the expiry index. SKIP LOCKED:
 * a record a writer holds (taking over the expired id right now) is left alone, and several
 * instances sweeping at once split the work instead of queueing behind each other. Each batch is
 * its own short statement, so no writer waits behind the sweep for long. Expiry itself does not
 * depend on the sweep: a claim treats an expired record as absent.
 */
export class TxidSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  swept = 0;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly clock: Clock,
    private readonly availability: Availability,
    private readonly intervalMs: number = LIMITS.pgTxidSweepIntervalMs,
  ) {}

  start(): void {
    this.timer = setTimeout(() => {
      this.running = this.pass().then(() => {
        this.running = undefined;
        if (!this.stopped) this.start();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  /** One pass: batches until fewer than a full batch is expired. Errors wait for the next pass. */
  async pass(): Promise<number> {
    let removed = 0;
    try {
      while (!this.stopped && this.availability.serving) {
        const now = String(this.clock.nowMs());
        const batch = String(LIMITS.pgTxidSweepBatch);
        const rows = await this.sql`
          DELETE FROM ledger_txids WHERE id IN (
            SELECT id FROM ledger_txids WHERE expires_at_ms <= ${now}::int8
            ORDER BY expires_at_ms LIMIT ${batch}::int8 FOR UPDATE SKIP LOCKED)`;
        removed += rows.count;
        if (rows.count < LIMITS.pgTxidSweepBatch) break;
      }
    } catch {
      // Unreachable database or a timeout: the availability probe handles the former.
    }
    this.swept += removed;
    return removed;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
