import pg from 'pg';
import { LedgerError } from '../../domain/errors.js';
import { type DatabaseOptions, isConnectionFailure } from './pg-connect.js';

/**
 * The connections group transactions run on: node-postgres (`pg`) clients in pipeline mode, one
 * per group in flight (docs/postgres.md, "Client library"). Every statement of a group is sent
 * when it is queried, without waiting for the ones before it, each with its own Sync: a failed
 * statement fails the transaction (the ones after it answer 25P02, COMMIT answers ROLLBACK) and
 * is reported as its own error. Reads, snapshots, the sweep and migrations stay on postgres.js
 * (PgPool).
 *
 * Why two libraries: the write path awaits two or three statements per group, one after the
 * other, and postgres.js 3.4's queries are instances of a derived class; under that pattern V8
 * promoted about 1.7 MB per young collection of dead query objects (bench/pg-query-gc.ts), which
 * set the pace of the server's GC pauses; `pg`'s queries settle plain promises (37 KB), and its
 * pipelined group cost a third less client CPU (BENCHMARKS.md, "PostgreSQL, seventh pass").
 */
export type GroupPool = pg.Pool;
export type GroupClient = pg.PoolClient;

/**
 * The URL for `pg`, with libpq's meaning of `sslmode` (as postgres.js reads it): `require`
 * encrypts without checking the certificate. `pg` alone takes `require` for `verify-full`, so a
 * server with a self-signed certificate would take reads (postgres.js) and refuse every write.
 */
export function libpqSslModes(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('sslmode') || parsed.searchParams.has('uselibpqcompat')) return url;
  parsed.searchParams.set('uselibpqcompat', 'true');
  return parsed.toString();
}

/** A pool of at most `max` pipelined connections, never closed for idleness. */
export function openGroupPool(options: DatabaseOptions, max: number, onError: () => void): GroupPool {
  const pool = new pg.Pool({
    connectionString: libpqSslModes(options.url),
    max,
    connectionTimeoutMillis: options.connectTimeoutMs,
    idleTimeoutMillis: 0,
    statement_timeout: options.statementTimeoutMs,
    application_name: 'ledgerctl',
    pipeline: true,
  } as pg.PoolConfig);
  // An idle connection that fails (the database restarted) is dropped by the pool; unheard, the
  // 'error' event would end the process.
  pool.on('error', onError);
  return pool;
}

/**
 * A statement's failure that did not come from the database (no ErrorResponse): the connection
 * failed or closed under it. `code` makes isConnectionFailure (and so PgLedger) treat it as a
 * lost database, as postgres.js's connection errors are.
 */
export class ConnectionLost extends Error {
  override readonly name = 'ConnectionLost';
  readonly code = 'CONNECTION_LOST';
  constructor(override readonly cause: unknown) {
    super(`database connection lost: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

function lostOr(err: unknown): unknown {
  // The database's refusals keep their SQLSTATE; a programming error stays what it is (loud).
  if (err instanceof pg.DatabaseError || err instanceof TypeError || err instanceof RangeError) return err;
  return new ConnectionLost(err);
}

/** One statement's text and parameters, built together: `p(value)` adds a parameter, returns `$n`. */
export type Param = (value: unknown) => string;

/** Prepared statement names by text: each text is parsed once per connection. */
const names = new Map<string, string>();

/** Sends one statement now (pipelined behind the client's earlier ones); `build` writes its text. */
export function statement<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: GroupClient,
  build: (p: Param) => string,
): Promise<pg.QueryResult<R>> {
  const values: unknown[] = [];
  const text = build((value) => {
    values.push(value);
    return `$${values.length}`;
  });
  return prepared<R>(client, text, values);
}

/** Sends one statement with its text and parameters now, as `statement` does. */
export function prepared<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: GroupClient,
  text: string,
  values: unknown[],
): Promise<pg.QueryResult<R>> {
  let name = names.get(text);
  if (name === undefined) {
    name = `ledgerctl_g${names.size + 1}`;
    names.set(text, name);
  }
  return client.query<R>({ name, text, values }).catch((err: unknown) => {
    throw lostOr(err);
  });
}

/** A parameterless statement in the simple protocol (BEGIN, COMMIT: several in one message). */
export function simple(client: GroupClient, text: string): Promise<pg.QueryResult> {
  return client.query(text).catch((err: unknown) => {
    throw lostOr(err);
  });
}

/**
 * Runs `work` on a connection of the pool and gives it back: rolled back after a failure, unless
 * the connection failed (the database rolls back a transaction whose connection closed), in which
 * case it is destroyed instead. `failureOf` names the error to judge (a wrapped cause).
 */
export async function withGroupClient<T>(
  pool: GroupPool,
  work: (client: GroupClient) => Promise<T>,
  options: { failureOf?: (err: unknown) => unknown; rollBack?: (err: unknown) => boolean } = {},
): Promise<T> {
  let client: GroupClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw lostOr(err);
  }
  let failed = false;
  const onError = () => {
    failed = true;
  };
  client.on('error', onError);
  let lost = false;
  try {
    return await work(client);
  } catch (err) {
    const failure = options.failureOf?.(err) ?? err;
    lost = failed || (!(failure instanceof LedgerError) && isConnectionFailure(failure));
    if (!lost && (options.rollBack?.(err) ?? true))
      await simple(client, 'ROLLBACK').catch(() => {
        lost = true;
      });
    throw err;
  } finally {
    client.removeListener('error', onError);
    client.release(lost || failed ? true : undefined);
  }
}
