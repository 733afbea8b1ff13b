import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import type { TestProject } from 'vitest/node';

/**
 * Finds the PostgreSQL the tests use: LEDGER_TEST_DATABASE_URL, else a local server on
 * 127.0.0.1:5432 (user postgres, password postgres), else a throwaway cluster created here with
 * initdb in a temporary directory. Where PostgreSQL is not installed at all the run fails with one
 * line saying how to install it: the PostgreSQL tests are never skipped.
 */
const DEFAULT_URL = 'postgres://postgres:postgres@127.0.0.1:5432/postgres';

declare module 'vitest' {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

async function reachable(url: string): Promise<boolean> {
  const sql = postgres(url, { max: 1, connect_timeout: 3, onnotice: () => {} });
  try {
    await sql`SELECT 1`;
    return true;
  } catch {
    return false;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export function findBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const initdb = which.stdout.trim();
  return initdb === '' ? undefined : join(initdb, '..');
}

export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(),
      );
    });
  });
}

/** A PostgreSQL cluster of the tests' own, and the shell commands that stop and start it again. */
export interface ThrowawayCluster {
  url: string;
  /** `pg_ctl stop -m fast` (as the postgres user when running as root). */
  stopCommand: string;
  /** `pg_ctl stop -m immediate`: a crash, the next start replays the WAL (commits not yet flushed are gone). */
  crashCommand: string;
  /** `pg_ctl start -w` with the cluster's options. */
  startCommand: string;
  /** Stops it and removes its directory. */
  stop(): void;
}

const shellQuote = (arg: string) => `'${arg.replaceAll("'", "'\\''")}'`;

/** initdb + pg_ctl start in a temp dir; as the postgres user when running as root (initdb refuses root). */
export function startThrowawayCluster(binDir: string, port: number): ThrowawayCluster {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-pg-'));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const argv = (file: string, args: string[]) => {
    const cmd = join(binDir, file);
    return asRoot ? ['runuser', '-u', 'postgres', '--', cmd, ...args] : [cmd, ...args];
  };
  const run = (file: string, args: string[]) => {
    const [cmd, ...rest] = argv(file, args);
    execFileSync(cmd!, rest, { stdio: 'pipe' });
  };
  const startArgs = [
    '-D',
    data,
    '-l',
    join(dir, 'log'),
    '-w',
    '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=200`,
    'start',
  ];
  const stopArgs = ['-D', data, '-m', 'fast', '-w', 'stop'];
  const crashArgs = ['-D', data, '-m', 'immediate', '-w', 'stop'];
  run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);
  run('pg_ctl', startArgs);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stopCommand: argv('pg_ctl', stopArgs).map(shellQuote).join(' '),
    crashCommand: argv('pg_ctl', crashArgs).map(shellQuote).join(' '),
    startCommand: argv('pg_ctl', startArgs).map(shellQuote).join(' '),
    stop: () => {
      try {
        run('pg_ctl', stopArgs);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  const explicit = process.env.LEDGER_TEST_DATABASE_URL;
  const url = explicit ?? DEFAULT_URL;
  if (await reachable(url)) {
    project.provide('pgAdminUrl', url);
    return undefined;
  }
  if (explicit !== undefined) {
    throw new Error(
      `LEDGER_TEST_DATABASE_URL=${explicit} is not reachable; start that PostgreSQL or unset it`,
    );
  }
  const binDir = findBinDir();
  if (binDir === undefined) {
    throw new Error(
      'PostgreSQL is not installed and none answers on 127.0.0.1:5432: install it (Debian/Ubuntu: apt-get install -y postgresql) or set LEDGER_TEST_DATABASE_URL',
    );
  }
  const cluster = startThrowawayCluster(binDir, await freePort());
  project.provide('pgAdminUrl', cluster.url);
  return cluster.stop;
}
