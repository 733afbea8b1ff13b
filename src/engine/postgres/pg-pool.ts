import type postgres from 'postgres';
import { type DatabaseOptions, openPool, RESERVED_FROM_SOUND_POOL } from './pg-connect.js';

/**
 * The ledger's connection pool, replaced by a fresh one as soon as any of its connections closes.
 *
 * postgres.js 3.4.9 reopens a closed connection in the same connection object, and that object
 * keeps what was left of the old session (docs/postgres.md, "Connections that closed are never
 * reused"):
 * - the FATAL error the server sent before closing (a fast shutdown's or pg_terminate_backend's
 *   57P01): the first query on the reopened connection fails with it without running;
 * - its row counter, when the close came while rows were arriving: the next query numbers its rows
 *   from there, so `const [row] = rows` reads a hole (GetBalance answered NOT_FOUND for an account
 *   that existed, test/pg-cut-session.test.ts);
 * - a write still buffered at the close: its flush timer is cancelled but never cleared, so the
 *   reopened connection never sends its startup message and fails CONNECT_TIMEOUT, again and
 *   again (a server NOT_SERVING for 5 s at a time after PostgreSQL was back).
 *
 * So no connection that closed ever serves again here: the first close of the current pool's
 * connections retires the whole pool (new work goes to a fresh one) and ends it gracefully, its
 * statements in flight on live connections finishing, the rest failed after `retireTimeoutMs`
 * (a connection that closed with a statement in flight never reports itself ended: postgres.js
 * destroys it at that timeout). `sql` always reaches the current pool, whatever was captured when,
 * and a connection reserved through it knows whether its pool was retired since: then
 * withReservedConnection neither rolls it back nor gives it back (it may have closed, and
 * postgres.js throws from a timer when a closed connection is written to).
 */
export class PgPool {
  /** The current pool: every call and property goes to whichever pool is current at that moment. */
  readonly sql: postgres.Sql;
  /** Pools retired so far (a connection of each closed). */
  replaced = 0;
  private current: postgres.Sql;
  private ended = false;

  constructor(
    private readonly options: DatabaseOptions,
    /** How long a retired pool's work may still run before what is left is failed. */
    private readonly retireTimeoutMs: number,
    /** Told when a connection of the current pool closed (the database may be gone). */
    private readonly onClose?: () => void,
  ) {
    this.current = this.open();
    this.sql = new Proxy(() => {}, {
      apply: (_target, _this, args) => Reflect.apply(this.current, undefined, args),
      get: (_target, property) =>
        property === 'reserve' ? this.reserve : Reflect.get(this.current, property),
    }) as unknown as postgres.Sql;
  }

  /**
   * Ends the current pool. Retired pools are ending already and have no work of the caller's left
   * (PgLedger closes after its writes): they are not waited for (postgres.js may hold one until
   * its retire timeout, see above).
   */
  async end(timeoutMs: number): Promise<void> {
    this.ended = true;
    await this.current.end({ timeout: timeoutMs / 1000 });
  }

  /** A reserved connection that knows whether its pool is still the current one (pg-connect.ts). */
  private readonly reserve = async (): Promise<postgres.ReservedSql> => {
    const pool = this.current;
    const tx = await pool.reserve();
    return Object.assign(tx, { [RESERVED_FROM_SOUND_POOL]: () => pool === this.current });
  };

  private open(): postgres.Sql {
    const sql: postgres.Sql = openPool(this.options, () => this.closed(sql));
    return sql;
  }

  private closed(sql: postgres.Sql): void {
    // Closes of retired pools (their own ending included) are expected.
    if (sql !== this.current || this.ended) return;
    this.current = this.open();
    this.replaced++;
    void sql.end({ timeout: this.retireTimeoutMs / 1000 }).catch(() => {});
    this.onClose?.();
  }
}
