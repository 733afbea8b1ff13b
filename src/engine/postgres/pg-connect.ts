import pg from 'pg';
import postgres from 'postgres';
import { LedgerError } from '../../domain/errors.js';
import { DatabaseError } from './database-error.js';

export interface DatabaseOptions {
  /** postgres://user:password@host:port/database (libpq URL form). */
  url: string;
  /** Connections this process opens at most. */
  poolSize: number;
  /** Server-side limit of one statement (PostgreSQL `statement_timeout`). */
  statementTimeoutMs: number;
  /** How long opening one connection may take. */
  connectTimeoutMs: number;
}

/** host:port/database of a URL, never its password: what error lines may show. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return 'the given URL';
  }
}

/** The URL forms postgres.js understands; anything else is refused before any connection. */
export function checkDatabaseUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseError('bad-url', 'database URL is not a URL (expected postgres://user@host:5432/db)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new DatabaseError(
      'bad-url',
      `database URL scheme ${parsed.protocol} is not postgres: (expected postgres://user@host:5432/db)`,
    );
  }
}

/** A connection pool; nothing is connected until the first query (see probeDatabase). */
export function openPool(options: DatabaseOptions, onClose?: () => void): postgres.Sql {
  checkDatabaseUrl(options.url);
  return postgres(options.url, {
    ...(onClose === undefined ? {} : { onclose: onClose }),
    max: options.poolSize,
    connect_timeout: Math.max(1, Math.ceil(options.connectTimeoutMs / 1000)),
    idle_timeout: 0,
    // No planned reconnects: every connection that closes retires its whole pool (pg-pool.ts), so
    // postgres.js's default 30-60 min lifetime would reopen all of them every few minutes.
    max_lifetime: null,
    prepare: true,
    onnotice: () => {},
    connection: {
      application_name: 'ledgerctl',
      statement_timeout: options.statementTimeoutMs,
    },
  });
}

/**
 * A result whose rows are not numbered from 0: postgres.js 3.4.9 numbered them from a row counter
 * left by a session that closed while sending rows (pg-pool.ts). Reading it would miss rows
 * (`const [row] = rows` is a hole), so it is refused as a failure of the connection.
 */
export class TornResult extends Error {
  override readonly name = 'TornResult';
  readonly code = 'TORN_RESULT';
  constructor(rows: number, count: number) {
    super(`a result of ${count} rows arrived as ${rows} (a connection's state left from a closed session)`);
  }
}

/** The rows of a row-returning statement, checked whole: as many rows as its command tag counted. */
export function wholeRows<T extends readonly unknown[] & { count: number }>(rows: T): T {
  if (rows.length !== rows.count) throw new TornResult(rows.length, rows.count);
  return rows;
}

/** SQLSTATEs that mean the connection, not the statement, failed (class 08, admin shutdown...). */
const CONNECTION_STATES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
]);

/**
 * True when an error says the database cannot be reached right now, as opposed to a statement
 * it refused: a socket error, a closed connection, a server shutting down or not accepting logins.
 */
export function isConnectionFailure(err: unknown): boolean {
  if (err instanceof postgres.PostgresError) return CONNECTION_STATES.has(err.code);
  // The same for node-postgres, which runs the group transactions (pg-group-client.ts).
  if (err instanceof pg.DatabaseError) return CONNECTION_STATES.has(err.code ?? '');
  // The ledger's own refusals carry a string code too (a snapshot too large, decided on a reserved
  // connection): the connection is fine and must be rolled back and given back.
  if (err instanceof LedgerError) return false;
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string';
}

function reason(err: unknown): string {
  if (err instanceof postgres.PostgresError) return err.message;
  const e = err as { code?: string; message?: string; errors?: { code?: string }[] };
  // Node reports a refused dual-stack connect as an AggregateError with one entry per address.
  const code = e.code ?? e.errors?.[0]?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'CONNECT_TIMEOUT') return 'connect timeout';
  if (code === 'ENOTFOUND') return 'host not found';
  return e.message || code || String(err);
}

/** Connects once; an unreachable or refusing database is a one-line DatabaseError. */
export async function probeDatabase(sql: postgres.Sql, url: string): Promise<void> {
  try {
    await sql`SELECT 1`;
  } catch (err) {
    // SELECT 1 fails only for reasons of the connection: refused, login, missing database.
    throw new DatabaseError(
      'unreachable',
      `cannot reach the database at ${describeUrl(url)}: ${reason(err)}`,
    );
  }
}

/**
 * Set by PgPool on the connections it reserves: false once the pool they came from saw any of its
 * connections close (it is retired then, and ends them itself).
 */
export const RESERVED_FROM_SOUND_POOL: unique symbol = Symbol('reserved from a pool that saw no close');

function fromSoundPool(tx: postgres.ReservedSql): boolean {
  const sound = (tx as { [RESERVED_FROM_SOUND_POOL]?: () => boolean })[RESERVED_FROM_SOUND_POOL];
  return sound?.() ?? true;
}

/**
 * Runs `work` on a reserved connection (a transaction's statements pipelined on one connection)
 * and gives the connection back safely. On a failure it rolls back, unless the connection itself
 * failed: the database rolls back a transaction whose connection closed. postgres.js 3.4's
 * release() puts a reserved connection back among the open ones even if it closed meanwhile; the
 * next query on it is written to a closed socket, which throws an uncaught TypeError from a timer
 * (the process dies) and never settles. A lost connection, or one reserved from a pool retired
 * since (PgPool), is not given back. `failureOf` names the error to judge (a wrapped cause).
 */
export async function withReservedConnection<T>(
  sql: postgres.Sql,
  work: (tx: postgres.ReservedSql) => Promise<T>,
  options: { failureOf?: (err: unknown) => unknown; rollBack?: (err: unknown) => boolean } = {},
): Promise<T> {
  const tx = await sql.reserve();
  let lost = false;
  try {
    return await work(tx);
  } catch (err) {
    // The error reported may be a statement's own (the first of a pipeline) while the connection
    // closed under a later one: written to then, postgres.js throws from a timer (serve ends). Any
    // close in its pool (PgPool) counts as this connection's.
    lost = isConnectionFailure(options.failureOf?.(err) ?? err) || !fromSoundPool(tx);
    // A ROLLBACK that fails means the connection failed too (it closed meanwhile): not given back.
    if (!lost && (options.rollBack?.(err) ?? true))
      await tx.unsafe('ROLLBACK').catch(() => {
        lost = true;
      });
    throw err;
  } finally {
    if (!lost && fromSoundPool(tx)) tx.release();
  }
}
