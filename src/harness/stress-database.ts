import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { describeUrl } from '../engine/postgres/pg-connect.js';
import { RunSetupError } from './run-setup-error.js';

/** The PostgreSQL server postgres scenarios create their database on (a user that may CREATE DATABASE). */
export function stressAdminUrl(): string {
  return (
    process.env.LEDGER_STRESS_DATABASE_URL ??
    process.env.LEDGER_TEST_DATABASE_URL ??
    'postgres://postgres:postgres@127.0.0.1:5432/postgres'
  );
}

export interface StressDatabase {
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** A fresh database for one run; an unreachable server is one line for the user (exit 2). */
export async function createStressDatabase(): Promise<StressDatabase> {
  const adminUrl = stressAdminUrl();
  const name = `ledgerctl_stress_${randomBytes(5).toString('hex')}`;
  const admin = postgres(adminUrl, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } catch (err) {
    throw new RunSetupError(
      `a postgres scenario needs a PostgreSQL server (LEDGER_STRESS_DATABASE_URL, now ${describeUrl(adminUrl)}): ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  } finally {
    await admin.end({ timeout: 1 });
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
      try {
        await sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await sql.end({ timeout: 1 });
      }
    },
  };
}
