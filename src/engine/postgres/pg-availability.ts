import postgres from 'postgres';

/**
 * Whether the database can be reached. Any connection failure marks it lost: listeners hear
 * `false` (the server's health goes NOT_SERVING) and a probe retries `SELECT 1` until it answers,
 * then listeners hear `true` again. No restart, and nothing acknowledged depends on it: a write is
 * acknowledged only after its COMMIT answered.
 */
export class Availability {
  private servingValue = true;
  private readonly listeners: ((serving: boolean, reason?: string) => void)[] = [];
  private probeTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly probeIntervalMs: number,
    /** A probe that has not answered by then counts as failed (a query can hang on a dead connection). */
    private readonly probeTimeoutMs: number,
  ) {}

  /** `SELECT 1`, failed after probeTimeoutMs whatever postgres.js does with it. */
  private probe(): Promise<unknown> {
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      this.sql`SELECT 1`,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('probe timed out')), this.probeTimeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  get serving(): boolean {
    return this.servingValue;
  }

  /** `reason`: with `false`, the failure that marked the database lost (for the server's log). */
  watch(listener: (serving: boolean, reason?: string) => void): void {
    this.listeners.push(listener);
    listener(this.servingValue);
  }

  /** A connection closed: check at once whether the database is still there. */
  suspect(): void {
    if (this.closed || !this.servingValue) return;
    this.probe().catch((err: unknown) => this.lost(err));
  }

  lost(cause?: unknown): void {
    if (this.closed || !this.servingValue) return;
    this.set(false, cause === undefined ? undefined : failureReason(cause));
    this.scheduleProbe();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.probeTimer);
  }

  private scheduleProbe(): void {
    this.probeTimer = setTimeout(() => {
      this.probe().then(
        () => {
          if (!this.closed) this.set(true);
        },
        () => {
          if (!this.closed) this.scheduleProbe();
        },
      );
    }, this.probeIntervalMs);
  }

  private set(serving: boolean, reason?: string): void {
    this.servingValue = serving;
    for (const listener of this.listeners) listener(serving, reason);
  }
}

/**
 * One line naming a connection failure: PostgreSQL's SQLSTATE and message, or postgres.js's and
 * Node's code and message (host:port at most, never the URL's password).
 */
export function failureReason(err: unknown): string {
  if (err instanceof postgres.PostgresError) return `${err.code} ${err.message}`;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return (code === undefined || message.includes(code) ? message : `${code} ${message}`).slice(0, 300);
}
