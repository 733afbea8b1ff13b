import type postgres from 'postgres';
import { DatabaseError } from './database-error.js';

/**
 * The schema, as numbered steps. A step is never edited once released: a change is a new step.
 * Only SQL that PostgreSQL >= 13, CockroachDB and YugabyteDB all accept (docs/postgres.md lists
 * every feature used): no extensions, no stored procedures, no triggers, no advisory locks.
 */
export const MIGRATIONS: readonly { version: number; name: string; statements: readonly string[] }[] = [
  {
    version: 1,
    name: 'accounts, audit log, transaction ids, head counter',
    statements: [
      // One row: the last log position, the total of all balances and the account count. A write
      // group updates it last in its transaction, so positions are handed out in commit order.
      `CREATE TABLE ledger_head (
        singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
        last_position bigint NOT NULL,
        total_balance bigint NOT NULL,
        account_count bigint NOT NULL
      )`,
      'INSERT INTO ledger_head (singleton, last_position, total_balance, account_count) VALUES (true, 0, 0, 0)',
      `CREATE TABLE ledger_accounts (
        id text PRIMARY KEY,
        balance bigint NOT NULL CHECK (balance >= 0),
        version bigint NOT NULL CHECK (version >= 0)
      )`,
      `CREATE TABLE ledger_log (
        position bigint PRIMARY KEY,
        transaction_id text NOT NULL,
        timestamp_ns bigint NOT NULL,
        operation text NOT NULL,
        account_id text NOT NULL,
        balance_after bigint NOT NULL,
        to_account_id text,
        to_balance_after bigint,
        amount bigint NOT NULL
      )`,
      // GetTransaction: the newest entry of an id (ids may be used again after their record expired).
      'CREATE INDEX ledger_log_by_txid ON ledger_log (transaction_id, position)',
      `CREATE TABLE ledger_txids (
        id text PRIMARY KEY,
        fingerprint text NOT NULL,
        expires_at_ms bigint NOT NULL,
        outcome text NOT NULL
      )`,
      // The sweep deletes the oldest expired records in small batches without scanning live ones.
      'CREATE INDEX ledger_txids_by_expiry ON ledger_txids (expires_at_ms)',
    ],
  },
  {
    version: 2,
    name: 'log entries record the principal that wrote them',
    statements: ["ALTER TABLE ledger_log ADD COLUMN principal text NOT NULL DEFAULT ''"],
  },
  {
    version: 3,
    name: 'flush barrier rows (group transactions commit asynchronously, a barrier makes them durable)',
    statements: [
      // pg-flush-barrier.ts: a one-row update committed synchronously flushes every earlier commit.
      `CREATE TABLE ledger_flush_barrier (
        slot integer PRIMARY KEY,
        n bigint NOT NULL
      )`,
      'INSERT INTO ledger_flush_barrier (slot, n) SELECT g, 0 FROM generate_series(0, 63) AS g',
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

const VERSION_TABLE = `CREATE TABLE IF NOT EXISTS ledger_schema (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version integer NOT NULL
)`;

function tooNew(version: number): DatabaseError {
  return new DatabaseError(
    'schema-too-new',
    `database schema version ${version} is newer than this ledgerctl supports (${SCHEMA_VERSION}); upgrade ledgerctl`,
  );
}

/** The schema version the database is at (0: no ledger schema yet). */
export async function schemaVersion(sql: postgres.Sql): Promise<number> {
  const [row] = await sql<{ exists: boolean }[]>`SELECT to_regclass('ledger_schema') IS NOT NULL AS exists`;
  if (row?.exists !== true) return 0;
  const [version] = await sql<{ version: number }[]>`SELECT version FROM ledger_schema`;
  return version?.version ?? 0;
}

/** Refuses a database this binary cannot serve: a newer schema, or one not migrated yet. */
export async function checkSchema(sql: postgres.Sql): Promise<void> {
  const version = await schemaVersion(sql);
  if (version > SCHEMA_VERSION) throw tooNew(version);
  if (version < SCHEMA_VERSION) {
    throw new DatabaseError(
      'schema-too-old',
      `database schema version ${version} is older than this ledgerctl needs (${SCHEMA_VERSION}); ` +
        'run `ledgerctl migrate --database-url ...` or start serve with --migrate',
    );
  }
}

export interface MigrationReport {
  from: number;
  to: number;
  applied: string[];
}

/**
 * Brings the schema to SCHEMA_VERSION, one step per transaction. The version row is locked first,
 * so two instances migrating at once run each step once: the second waits, then finds it done.
 */
export async function migrate(sql: postgres.Sql): Promise<MigrationReport> {
  await sql.unsafe(VERSION_TABLE);
  await sql`INSERT INTO ledger_schema (singleton, version) VALUES (true, 0) ON CONFLICT (singleton) DO NOTHING`;
  const applied: string[] = [];
  let from: number | undefined;
  for (;;) {
    const done = await sql.begin(async (tx) => {
      const [row] = await tx<{ version: number }[]>`SELECT version FROM ledger_schema FOR UPDATE`;
      const current = row!.version;
      from ??= current;
      if (current > SCHEMA_VERSION) throw tooNew(current);
      const step = MIGRATIONS.find((m) => m.version === current + 1);
      if (step === undefined) return true;
      for (const statement of step.statements) await tx.unsafe(statement);
      await tx`UPDATE ledger_schema SET version = ${step.version}`;
      applied.push(`${step.version}: ${step.name}`);
      return false;
    });
    if (done) return { from: from ?? 0, to: SCHEMA_VERSION, applied };
  }
}
