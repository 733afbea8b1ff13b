import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import * as grpc from '@grpc/grpc-js';
import pg from 'pg';
import postgres from 'postgres';
import { absoluteNowMs } from '../src/harness/precise-timer.js';
import { SERVE_NODE_FLAGS } from '../src/server/serve-node-flags.js';
import { ACCOUNTS as BATCH_ACCOUNTS, ids as batchAccountIds, encodeBatch } from './batch-request.js';
import type { BenchClientKind } from './bench-client.js';
import { mergeEncoded, newHistogramUs, summarizeUs } from './histogram.js';
import type { LoadReport, LoadSpec, ParentMessage, WorkerMessage } from './load-spec.js';
import { loadAverage, processCpuMs, threadCpuMs } from './proc-stats.js';

/**
 * PostgreSQL side by side, in one run (results in BENCHMARKS.md, "PostgreSQL"):
 *  1. pgbench's TPC-B-like transaction (`pgbench -i -s 10`, `-c 16 -j 2 -T <s> -M prepared`);
 *  2. ledgerctl serve --database-url, transfers through gRPC, 16 callers: one instance, then two
 *     instances on the same database (8 callers each); CPU of each server, of PostgreSQL (all its
 *     processes) and of the load generator; database transactions (groups) per write;
 *  3. open loop at 500 transfers/s on one instance: latency percentiles;
 *  4. the client library: the same 5-statement transaction with `pg` (one statement per round
 *     trip; pipeline mode, everything in one) and `postgres` (sql.begin; a reserved connection with
 *     everything pipelined), 16 at once.
 * Usage: npm run build && node dist/bench/pg-bench.js [seconds] [--only pgbench,one,two,open,batch,libs]
 *   [--commit overlap,per-group,overlap/main,...] [--client h2|raw] [--rounds N] [--profile DIR] [--callers 16] [--shared]
 *   [--slow-flush-us N]
 * (LEDGER_BENCH_DATABASE_URL: an admin URL, default postgres://postgres:postgres@127.0.0.1:5432/postgres)
 * --client h2 (default) drives the servers with the harness's lean HTTP/2 caller (a few us of CPU
 * per call), raw with the leanest grpc-js client; --rounds N alternates pgbench and the 1-instance
 * runs N times and reports the median ratio; --profile writes the first server's CPU profile (with
 * its database worker's, --db-thread worker); `/main` or `/worker` after a commit mode picks --db-thread,
 * `/N` --db-groups-in-flight, `/cached` or `/locked` --db-decide (e.g. `per-group/cached,per-group/locked`).
 * Each caller moves money back and forth between its own two accounts; --shared gives caller k of
 * every server the same two, so two servers write the same accounts (--only two; the worst case
 * for --db-decide cached). --only two without one runs --rounds rounds, in alternating order.
 */
const ADMIN_URL =
  process.env.LEDGER_BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const RUNS = ['pgbench', 'one', 'two', 'open', 'batch', 'libs'] as const;
const { values: flags, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    only: { type: 'string', default: RUNS.join(',') },
    commit: { type: 'string', default: 'per-group,overlap' },
    client: { type: 'string', default: 'h2' },
    profile: { type: 'string' },
    rounds: { type: 'string', default: '1' },
    callers: { type: 'string', default: '16' },
    shared: { type: 'boolean', default: false },
    'slow-flush-us': { type: 'string', default: '0' },
  },
});
/**
 * --slow-flush-us N: a slow disk, simulated for both sides of the ratio (the ledger's and pgbench's
 * databases): `commit_delay = N` with `commit_siblings = 0` makes every WAL flush of their sessions
 * sleep N us first, holding the WAL write lock as a slow fdatasync would. Other databases on the
 * same PostgreSQL are not slowed (their sessions' commit_delay stays 0), though a flush that one of
 * our sessions leads covers their WAL too.
 */
const SLOW_FLUSH_US = Number(flags['slow-flush-us']);
if (!Number.isInteger(SLOW_FLUSH_US) || SLOW_FLUSH_US < 0 || SLOW_FLUSH_US > 100_000)
  throw new Error(
    `--slow-flush-us takes 0-100000 (PostgreSQL's commit_delay range); got ${flags['slow-flush-us']}`,
  );
const ROUNDS = Number(flags.rounds);
const SECONDS = Number(positionals[0] ?? 10);
const ONLY = new Set(flags.only.split(','));
for (const run of ONLY) {
  if (!(RUNS as readonly string[]).includes(run))
    throw new Error(`--only takes ${RUNS.join(',')}; got ${run}`);
}
const CLIENT = flags.client as BenchClientKind;
if (CLIENT !== 'h2' && CLIENT !== 'raw') throw new Error(`--client must be h2 or raw, got ${CLIENT}`);
const WARMUP_MS = 2_000;
const ACCOUNTS = 10_000;
/** Closed-loop callers of ledgerctl and pgbench's clients (--callers; the issue's figure is 16). */
const CALLERS = Number(flags.callers);
if (!Number.isInteger(CALLERS) || CALLERS < 2 || CALLERS % 2 !== 0)
  throw new Error(`--callers takes an even number >= 2; got ${flags.callers}`);
const CLI = fileURLToPath(new URL('../../bin/ledgerctl.js', import.meta.url));

function urlFor(db: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${db}`;
  return url.toString();
}

async function freshDatabase(name: string): Promise<string> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  if (SLOW_FLUSH_US > 0) {
    await admin.unsafe(`ALTER DATABASE ${name} SET commit_delay = ${SLOW_FLUSH_US}`);
    await admin.unsafe(`ALTER DATABASE ${name} SET commit_siblings = 0`);
  }
  await admin.end();
  return urlFor(name);
}

/** CPU ms of every PostgreSQL process (postmaster, backends, WAL writer, checkpointer...). */
function postgresCpuMs(): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'postgres') continue;
      total += processCpuMs(Number(entry));
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return total;
}

function pgbenchConnection(url: string): { env: NodeJS.ProcessEnv; conn: string[] } {
  const u = new URL(url);
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
  const conn = [
    '-h',
    u.hostname,
    '-p',
    u.port || '5432',
    '-U',
    decodeURIComponent(u.username),
    u.pathname.slice(1),
  ];
  return { env, conn };
}

/** A fresh pgbench database at scale 10. */
async function initPgbench(): Promise<string> {
  const url = await freshDatabase('ledgerctl_bench_pgbench');
  const { env, conn } = pgbenchConnection(url);
  execFileSync('pgbench', ['-i', '-s', '10', '-q', ...conn], { env, stdio: 'pipe' });
  return url;
}

/**
 * A CHECKPOINT before each measurement: each then starts with the same (empty) backlog of dirty
 * buffers and pays the full-page writes of first touches after a checkpoint, instead of the run
 * after pgbench paying for pgbench's.
 */
async function checkpoint(): Promise<void> {
  const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe('CHECKPOINT');
  await admin.end();
}

async function runPgbench(url: string): Promise<{ tps: number; clientCpuMs: number; pgPercent: number }> {
  await checkpoint();
  const { env, conn } = pgbenchConnection(url);
  const child = spawn(
    '/usr/bin/time',
    [
      '-f',
      'cpu %U %S',
      'pgbench',
      '-c',
      String(CALLERS),
      '-j',
      '2',
      '-T',
      String(SECONDS),
      '-M',
      'prepared',
      ...conn,
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // pgbench's backends exit with it, taking their CPU counters along: sample PostgreSQL inside the run.
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(1000);
  const pg0 = postgresCpuMs();
  const t0 = performance.now();
  await sleep(SECONDS * 1000 - 2000);
  const pgPercent = ((postgresCpuMs() - pg0) / (performance.now() - t0)) * 100;
  await exited;
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1]);
  const cpu = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
  const clientCpuMs = cpu === null ? Number.NaN : (Number(cpu[1]) + Number(cpu[2])) * 1000;
  return { tps, clientCpuMs, pgPercent };
}

interface Server {
  child: ChildProcess;
  target: string;
}

const median = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

let profiled = false;

/**
 * `mode` is a --db-commit value, optionally followed by `/worker` or `/main` (--db-thread), `/N`
 * (--db-groups-in-flight) and `/cached` or `/locked` (--db-decide), in any order.
 */
async function startServer(url: string, mode = 'overlap'): Promise<Server> {
  const [commit, ...rest] = mode.split('/');
  const thread = rest.find((p) => p === 'main' || p === 'worker');
  const groups = rest.find((p) => /^\d+$/.test(p));
  const decide = rest.find((p) => p === 'cached' || p === 'locked');
  const unknown = rest.filter((p) => p !== thread && p !== groups && p !== decide);
  if (unknown.length > 0) throw new Error(`--commit: unknown part ${unknown.join('/')} in ${mode}`);
  const profile = flags.profile !== undefined && !profiled;
  profiled ||= profile;
  const child = spawn(
    process.execPath,
    [
      // As the harness starts servers (BENCH_PLAIN_NODE=1: without serve's node flags).
      ...(process.env.BENCH_PLAIN_NODE === '1' ? [] : SERVE_NODE_FLAGS),
      ...(profile ? ['--cpu-prof', '--cpu-prof-dir', flags.profile!] : []),
      CLI,
      'serve',
      '--port',
      '0',
      '--database-url',
      url,
      '--log-level',
      'warn',
      '--db-pool-size',
      '8',
      '--db-commit',
      commit!,
      ...(thread === undefined ? [] : ['--db-thread', thread]),
      ...(groups === undefined ? [] : ['--db-groups-in-flight', groups]),
      ...(decide === undefined ? [] : ['--db-decide', decide]),
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
  return { child, target: /listening on (\S+)/.exec(line)![1]! };
}

async function stopServer(server: Server): Promise<void> {
  server.child.kill('SIGTERM');
  await new Promise((resolve) => server.child.once('exit', resolve));
}

interface LoadResult {
  transfersPerSec: number;
  errors: number;
  latency: ReturnType<typeof summarizeUs>;
  serverCpuMs: number[];
  /** Of serverCpuMs, the main thread's (gRPC; with --db-thread worker, the rest is mostly the worker's). */
  serverMainCpuMs: number[];
  pgCpuMs: number;
  clientCpuMs: number;
  /** Group transactions (database commits that are not flush barriers). */
  commits: number;
  barriers: number;
  /** Transactions rolled back: with --db-decide cached, groups whose cached states were stale. */
  rollbacks: number;
  /** Idempotency records updated after their insert: one per write with an id on the locked path. */
  recordRewrites: number;
  writes: number;
  wallMs: number;
}

/** Transactions committed in the database, and flush barriers run (each one of those commits). */
async function xactCommits(
  url: string,
): Promise<{ commits: number; barriers: number; rollbacks: number; rewrites: number }> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  // pg_stat_* lag by up to a second (backends report at most once a second): good for shares.
  const [row] = await sql<{ n: string; b: string; r: string; u: string }[]>`
    SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database())::text AS n,
      (SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database())::text AS r,
      (SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'ledger_txids')::text AS u,
      (SELECT sum(n) FROM ledger_flush_barrier)::text AS b`;
  await sql.end();
  return {
    commits: Number(row!.n),
    barriers: Number(row!.b),
    rollbacks: Number(row!.r),
    rewrites: Number(row!.u),
  };
}

/** Transfers through gRPC: callers spread over the servers, one load thread per server. */
async function runTransfers(
  url: string,
  servers: Server[],
  mode: 'closed' | 'open',
  ratePerSec = 0,
  commitMode = 'overlap',
): Promise<LoadResult> {
  await checkpoint();
  const workers = servers.map(
    (server, i) =>
      new Worker(new URL('./load-worker.js', import.meta.url), {
        workerData: {
          target: server.target,
          client: CLIENT,
          // --shared: every server's callers take the same account pairs (caller k of each server
          // moves the same two accounts), so each server's writes make the other's cache stale.
          workerId: flags.shared ? 0 : i,
          runTag: `pg${Date.now()}-${mode}-${i}`,
          connections: 2,
          mode,
          ops: ['transfer'],
          concurrency: CALLERS / servers.length,
          ratePerSec: ratePerSec / servers.length,
          warmupMs: WARMUP_MS,
          durationMs: SECONDS * 1000,
          accounts: ACCOUNTS,
          deadlineMs: 10_000,
        } satisfies LoadSpec,
      }),
  );
  const done = workers.map(
    (w) =>
      new Promise<LoadReport>((resolve, reject) => {
        w.on('message', (m: WorkerMessage) => {
          if (m.type === 'done') resolve(m.report);
          else if (m.type === 'failed') reject(new Error(m.message));
        });
        w.once('error', reject);
      }),
  );
  await Promise.all(
    workers.map(
      (w) => new Promise<void>((r) => w.on('message', (m: WorkerMessage) => m.type === 'ready' && r())),
    ),
  );
  const startAtMs = absoluteNowMs() + 50;
  for (const w of workers) w.postMessage({ type: 'go', startAtMs } satisfies ParentMessage);
  const sample = async (atMs: number) => {
    await new Promise((r) => setTimeout(r, Math.max(0, atMs - absoluteNowMs())));
    const c = process.cpuUsage();
    return {
      at: absoluteNowMs(),
      servers: servers.map((s) => processCpuMs(s.child.pid!)),
      mains: servers.map((s) => threadCpuMs(s.child.pid!, s.child.pid!)),
      pg: postgresCpuMs(),
      client: (c.user + c.system) / 1000,
      commits: await xactCommits(url),
    };
  };
  const from = await sample(startAtMs + WARMUP_MS);
  const to = await sample(startAtMs + WARMUP_MS + SECONDS * 1000);
  const reports = await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
  const latency = newHistogramUs();
  let count = 0;
  let errors = 0;
  for (const r of reports) {
    const op = r.perOp.transfer!;
    count += op.count;
    errors += Object.values(op.errors).reduce((a, b) => a + b, 0);
    mergeEncoded(latency, op.latencyUs);
  }
  return {
    transfersPerSec: count / SECONDS,
    errors,
    latency: summarizeUs(latency),
    serverCpuMs: to.servers.map((v, i) => v - from.servers[i]!),
    serverMainCpuMs: to.mains.map((v, i) => v - from.mains[i]!),
    pgCpuMs: to.pg - from.pg,
    clientCpuMs: to.client - from.client,
    // --db-commit overlap: every group runs exactly one barrier (this bench reads nothing), an exact
    // count. per-group: pg_stat_database's commit counter (the sampling's own statement subtracted).
    // auto: that counter less the barriers (each one a commit too; one per asynchronous group).
    commits: commitMode.startsWith('auto')
      ? to.commits.commits - from.commits.commits - 1 - (to.commits.barriers - from.commits.barriers)
      : to.commits.barriers > from.commits.barriers
        ? to.commits.barriers - from.commits.barriers
        : to.commits.commits - from.commits.commits - 1,
    barriers: to.commits.barriers - from.commits.barriers,
    rollbacks: to.commits.rollbacks - from.commits.rollbacks,
    recordRewrites: to.commits.rewrites - from.commits.rewrites,
    writes: count,
    wallMs: to.at - from.at,
  };
}

async function seedAccounts(url: string): Promise<void> {
  execFileSync(process.execPath, [CLI, 'migrate', '--database-url', url], { stdio: 'pipe' });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`INSERT INTO ledger_accounts (id, balance, version)
    SELECT 'acct-' || lpad(i::text, 6, '0'), 1000000000, 0 FROM generate_series(0, ${ACCOUNTS - 1}) AS i`;
  await sql`UPDATE ledger_head SET total_balance = ${String(ACCOUNTS * 1_000_000_000)}::int8, account_count = ${ACCOUNTS}`;
  // As pgbench -i does for its tables: otherwise autovacuum runs on the fresh rows during the first
  // measurement, and the first variant of round 1 pays for it.
  await sql`VACUUM ANALYZE`;
  await sql.end();
}

async function checkConserved(url: string, accounts: number, balance: number): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  const [row] = await sql<{ sum: string; total: string; n: string; last: string }[]>`
    SELECT (SELECT sum(balance) FROM ledger_accounts)::text AS sum, total_balance::text AS total,
      (SELECT count(*) FROM ledger_log)::text AS n, last_position::text AS last FROM ledger_head`;
  await sql.end();
  const expected = (BigInt(accounts) * BigInt(balance)).toString();
  const ok = row!.sum === expected && row!.sum === row!.total && row!.n === row!.last;
  return ok ? `conserved, ${row!.n} dense log entries` : `BROKEN: ${JSON.stringify(row)}`;
}

const BATCH_SIZE = 100;
const BATCH_BALANCE = 1_000_000_000;

/** The batch accounts of batch-request.ts (acct-00000...), each with BATCH_BALANCE. */
async function seedBatchAccounts(url: string): Promise<void> {
  execFileSync(process.execPath, [CLI, 'migrate', '--database-url', url], { stdio: 'pipe' });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`INSERT INTO ledger_accounts (id, balance, version)
    SELECT 'acct-' || lpad(i::text, 5, '0'), ${BATCH_BALANCE}, 0 FROM generate_series(0, ${BATCH_ACCOUNTS - 1}) AS i`;
  await sql`UPDATE ledger_head SET total_balance = ${String(BATCH_ACCOUNTS * BATCH_BALANCE)}::int8,
    account_count = ${BATCH_ACCOUNTS}`;
  await sql.end();
  if (batchAccountIds.length !== BATCH_ACCOUNTS) throw new Error('batch-request.ts ids changed');
}

/** ExecuteBatch, closed loop: CALLERS callers, each sending BATCH_SIZE transfers at a time. */
async function runBatches(server: Server): Promise<{
  transfersPerSec: number;
  batchesPerSec: number;
  errors: number;
  serverPercent: number;
  pgPercent: number;
  clientPercent: number;
}> {
  const client = new grpc.Client(server.target, grpc.credentials.createInsecure());
  const call = (body: Buffer) =>
    new Promise<void>((resolve, reject) =>
      client.makeUnaryRequest(
        '/ledger.v1.Ledger/ExecuteBatch',
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  const tag = `pgb${Date.now()}`;
  let seq = 0;
  let done = 0;
  let errors = 0;
  let measuring = false;
  const stopAt = performance.now() + WARMUP_MS + SECONDS * 1000;
  const callers = Array.from({ length: CALLERS }, async () => {
    while (performance.now() < stopAt) {
      try {
        await call(encodeBatch(tag, seq++, BATCH_SIZE, 0));
        if (measuring) done++;
      } catch {
        if (measuring) errors++;
      }
    }
  });
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const cpu = () => ({
    at: performance.now(),
    server: processCpuMs(server.child.pid!),
    pg: postgresCpuMs(),
    client: process.cpuUsage(),
  });
  measuring = true;
  const from = cpu();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  measuring = false;
  const to = cpu();
  await Promise.all(callers);
  client.close();
  const wallMs = to.at - from.at;
  const c = process.cpuUsage(from.client);
  const percent = (ms: number) => (ms / wallMs) * 100;
  return {
    transfersPerSec: (done * BATCH_SIZE * 1000) / wallMs,
    batchesPerSec: (done * 1000) / wallMs,
    errors,
    serverPercent: percent(to.server - from.server),
    pgPercent: percent(to.pg - from.pg),
    clientPercent: percent((c.user + c.system) / 1000),
  };
}

/** The client libraries on the same transaction: 2 updates + 1 insert between BEGIN and COMMIT. */
async function compareClients(
  url: string,
): Promise<Record<string, { txPerSec: number; clientCpuUsPerTx: number }>> {
  const setup = postgres(url, { max: 1, onnotice: () => {} });
  await setup`CREATE TABLE IF NOT EXISTS lib_accounts (id int PRIMARY KEY, balance bigint NOT NULL)`;
  await setup`CREATE TABLE IF NOT EXISTS lib_log (id bigserial PRIMARY KEY, a int, b int, amount bigint)`;
  await setup`INSERT INTO lib_accounts SELECT i, 1000000 FROM generate_series(0, 9999) i ON CONFLICT DO NOTHING`;
  await setup.end();
  const results: Record<string, { txPerSec: number; clientCpuUsPerTx: number }> = {};
  const durationMs = Math.min(SECONDS, 5) * 1000;
  const measure = async (name: string, tx: (a: number, b: number) => Promise<void>) => {
    let n = 0;
    const cpu0 = process.cpuUsage();
    const until = performance.now() + durationMs;
    await Promise.all(
      Array.from({ length: CALLERS }, async (_, c) => {
        for (let i = 0; performance.now() < until; i++) {
          const a = (c * 613 + i * 2) % 10000;
          await tx(a, (a + 1) % 10000);
          n++;
        }
      }),
    );
    const cpu = process.cpuUsage(cpu0);
    results[name] = { txPerSec: (n / durationMs) * 1000, clientCpuUsPerTx: (cpu.user + cpu.system) / n };
  };
  const pool = new pg.Pool({ connectionString: url, max: CALLERS });
  await measure('pg (one statement per round trip)', async (a, b) => {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query({
        name: 'u',
        text: 'UPDATE lib_accounts SET balance = balance - 1 WHERE id = $1',
        values: [a],
      });
      await client.query({
        name: 'u',
        text: 'UPDATE lib_accounts SET balance = balance - 1 WHERE id = $1',
        values: [b],
      });
      await client.query({
        name: 'i',
        text: 'INSERT INTO lib_log (a, b, amount) VALUES ($1, $2, 1)',
        values: [a, b],
      });
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  });
  await pool.end();
  const sql = postgres(url, { max: CALLERS, onnotice: () => {} });
  await measure('postgres, sql.begin (BEGIN and COMMIT each a round trip)', async (a, b) => {
    await sql.begin((t) => [
      t`UPDATE lib_accounts SET balance = balance - 1 WHERE id = ${a}`,
      t`UPDATE lib_accounts SET balance = balance - 1 WHERE id = ${b}`,
      t`INSERT INTO lib_log (a, b, amount) VALUES (${a}, ${b}, 1)`,
    ]);
  });
  // What PgLedger did until the seventh pass: a reserved connection, one pipelined round trip.
  await measure('postgres, reserved connection, one pipelined round trip', async (a, b) => {
    const r = await sql.reserve();
    try {
      await Promise.all([
        r`BEGIN`,
        r`UPDATE lib_accounts SET balance = balance - 1 WHERE id = ${a}`,
        r`UPDATE lib_accounts SET balance = balance - 1 WHERE id = ${b}`,
        r`INSERT INTO lib_log (a, b, amount) VALUES (${a}, ${b}, 1)`,
        r`COMMIT`,
      ]);
    } finally {
      r.release();
    }
  });
  await sql.end();
  // What PgLedger does since the seventh pass (pg-group-client.ts): pg in pipeline mode.
  const pipelined = new pg.Pool({ connectionString: url, max: CALLERS, pipeline: true } as pg.PoolConfig);
  await measure('pg, pipeline mode, one pipelined round trip', async (a, b) => {
    const client = await pipelined.connect();
    try {
      await Promise.all([
        client.query('BEGIN'),
        client.query({
          name: 'u',
          text: 'UPDATE lib_accounts SET balance = balance - 1 WHERE id = $1',
          values: [a],
        }),
        client.query({
          name: 'u',
          text: 'UPDATE lib_accounts SET balance = balance - 1 WHERE id = $1',
          values: [b],
        }),
        client.query({
          name: 'i',
          text: 'INSERT INTO lib_log (a, b, amount) VALUES ($1, $2, 1)',
          values: [a, b],
        }),
        client.query('COMMIT'),
      ]);
    } finally {
      client.release();
    }
  });
  await pipelined.end();
  return results;
}

function describe(label: string, r: LoadResult): void {
  const perWrite = (ms: number) => ((ms * 1000) / r.writes).toFixed(0);
  const groups = r.commits;
  console.log(
    `${label}: ${r.transfersPerSec.toFixed(0)} transfers/s, errors ${r.errors}; latency p50 ${r.latency.p50} us, ` +
      `p99 ${r.latency.p99} us, max ${r.latency.max} us`,
  );
  console.log(
    `  CPU over ${(r.wallMs / 1000).toFixed(1)} s: servers ${r.serverCpuMs.map((ms, i) => `${((ms / r.wallMs) * 100).toFixed(0)}% (main thread ${((r.serverMainCpuMs[i]! / r.wallMs) * 100).toFixed(0)}%)`).join(' + ')}, ` +
      `PostgreSQL ${((r.pgCpuMs / r.wallMs) * 100).toFixed(0)}%, load generator ${((r.clientCpuMs / r.wallMs) * 100).toFixed(0)}%`,
  );
  console.log(
    `  per write: server ${r.serverCpuMs.map((ms, i) => `${perWrite(ms)} (main thread ${perWrite(r.serverMainCpuMs[i]!)})`).join(' + ')} us CPU, PostgreSQL ${perWrite(r.pgCpuMs)} us CPU; ` +
      `${groups} group transactions = ${(r.writes / Math.max(1, groups)).toFixed(1)} writes per group, ` +
      `${r.barriers} flush barriers (${(r.writes / Math.max(1, r.barriers)).toFixed(1)} writes per flush), ` +
      `${((2 * groups + r.barriers) / r.writes).toFixed(2)} round trips per write (2 per group, 1 per barrier)`,
  );
  // --db-decide cached: a cached group writes each record once and takes 1 round trip; a locked
  // one rewrites its records and takes 2; a stale cached try (rolled back) costs 1 more. Overlap
  // mode's barriers count stale tries too, so the cached share is of writes, the trips estimated.
  const cachedShare = Math.min(1, Math.max(0, 1 - r.recordRewrites / r.writes));
  const committed = Math.max(1, groups - (r.barriers > 0 ? r.rollbacks : 0));
  if (label.includes('auto'))
    console.log(
      `  --db-commit auto: ${r.barriers} groups asynchronous (one barrier each; 0: every group synchronous), ` +
        `about ${Math.min(100, (r.barriers / Math.max(1, groups, r.barriers)) * 100).toFixed(0)}% ` +
        '(the group count comes from pg_stat_database, which lags by up to a second)',
    );
  console.log(
    `  decided from the cache: ${(cachedShare * 100).toFixed(0)}% of writes (records written once); ` +
      `${r.rollbacks} rolled back (stale cached tries); about ${(2 - cachedShare + r.rollbacks / committed).toFixed(2)} ` +
      `round trips per group (barrier riding with the COMMIT)`,
  );
}

const machine = `${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1]}, ${
  readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length
} cores, Node ${process.version}`;
console.log(
  `machine: ${machine}; ${SECONDS} s per measurement after ${WARMUP_MS / 1000} s warm-up; load average ${loadAverage()}` +
    (SLOW_FLUSH_US > 0 ? `; simulated slow flushes: commit_delay ${SLOW_FLUSH_US} us` : ''),
);

let pgbTps = Number.NaN;
const pgbUrl = ONLY.has('pgbench') ? await initPgbench() : undefined;
const vsPgbench = (perSec: number) =>
  Number.isNaN(pgbTps) ? '' : `  vs pgbench: ${(perSec / pgbTps).toFixed(2)}x`;

const url = await freshDatabase('ledgerctl_bench');
await seedAccounts(url);
// Both commit modes in the same run (docs/postgres.md, "Decision: when a group's commit is
// flushed"): per-group (each group waits for its own flush while holding the head row) and overlap.
// Rounds alternate pgbench and ledgerctl, so a noisy neighbour hits both sides of a ratio alike.
const modes = flags.commit.split(',');
const ratios = new Map<string, number[]>(modes.map((m) => [m, []]));
const rates = new Map<string, number[]>(modes.map((m) => [m, []]));
const pgbRates: number[] = [];
const oneServers = new Map<string, Server>();
if (ONLY.has('one') || ONLY.has('two')) {
  // The first closed loop on the fresh ledger ran at 2-4x PostgreSQL CPU per write (120-224 us,
  // whichever variant it was): its tables were empty when analyzed. One unmeasured loop, then
  // ANALYZE, so round 1's first variant is not that run.
  const server = await startServer(url, modes[0]);
  oneServers.set(modes[0]!, server);
  await runTransfers(url, [server], 'closed');
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql`VACUUM ANALYZE`;
  await sql.end();
}
for (let round = 1; round <= (ONLY.has('one') || pgbUrl !== undefined ? ROUNDS : 0); round++) {
  if (ROUNDS > 1) console.log(`round ${round} of ${ROUNDS}, load average ${loadAverage()}`);
  if (pgbUrl !== undefined) {
    const pgb = await runPgbench(pgbUrl);
    pgbTps = pgb.tps;
    pgbRates.push(pgb.tps);
    console.log(
      `pgbench TPC-B-like, scale 10, ${CALLERS} clients, -M prepared: ${pgb.tps.toFixed(0)} tps; CPU: PostgreSQL ${pgb.pgPercent.toFixed(0)}% ` +
        `(sampled inside the run), pgbench ${((pgb.clientCpuMs / (SECONDS * 1000)) * 100).toFixed(0)}%`,
    );
  }
  if (!ONLY.has('one')) continue;
  // Every other round in reverse order: the run right after pgbench starts with its checkpoint's
  // full-page writes and dirty buffers, and no variant should always take that place.
  for (const mode of round % 2 === 1 ? modes : [...modes].reverse()) {
    const server = oneServers.get(mode) ?? (await startServer(url, mode));
    oneServers.set(mode, server);
    const single = await runTransfers(url, [server], 'closed', 0, mode);
    describe(`ledgerctl, 1 instance, ${CALLERS} callers, --db-commit ${mode}`, single);
    console.log(vsPgbench(single.transfersPerSec));
    rates.get(mode)!.push(single.transfersPerSec);
    ratios.get(mode)!.push(single.transfersPerSec / pgbTps);
  }
}
for (const server of oneServers.values()) await stopServer(server);
if (ROUNDS > 1 && ONLY.has('one')) {
  for (const mode of modes) {
    console.log(
      `median of ${ROUNDS} rounds, --db-commit ${mode}: ${median(rates.get(mode)!).toFixed(0)} transfers/s` +
        (pgbUrl === undefined
          ? ''
          : `, pgbench ${median(pgbRates).toFixed(0)} tps; ratio per round ${ratios
              .get(mode)!
              .map((r) => r.toFixed(2))
              .join(' ')}, median ${median(ratios.get(mode)!).toFixed(2)}x`),
    );
  }
}
const twoRounds = ONLY.has('two') && !ONLY.has('one') ? ROUNDS : 1;
for (let round = 1; round <= twoRounds; round++) {
  if (twoRounds > 1)
    console.log(`two instances, round ${round} of ${twoRounds}, load average ${loadAverage()}`);
  for (const mode of round % 2 === 1 ? modes : [...modes].reverse()) {
    if (!ONLY.has('two') && !(ONLY.has('open') && mode === modes.at(-1))) continue;
    const first = await startServer(url, mode);
    if (ONLY.has('two')) {
      const second = await startServer(url, mode);
      const pair = await runTransfers(url, [first, second], 'closed', 0, mode);
      describe(
        `ledgerctl, 2 instances, ${CALLERS / 2} callers each${flags.shared ? ' (same accounts on both)' : ''}, --db-commit ${mode}`,
        pair,
      );
      console.log(vsPgbench(pair.transfersPerSec));
      await stopServer(second);
    }
    if (ONLY.has('open') && mode === modes.at(-1) && round === 1) {
      const open = await runTransfers(url, [first], 'open', 500);
      describe(`ledgerctl, 1 instance, open loop 500/s, --db-commit ${mode}`, open);
    }
    await stopServer(first);
  }
}
if (ONLY.has('batch')) {
  const batchUrl = await freshDatabase('ledgerctl_bench_batch');
  await seedBatchAccounts(batchUrl);
  const server = await startServer(batchUrl, modes.at(-1));
  const r = await runBatches(server);
  console.log(
    `ledgerctl, 1 instance, ExecuteBatch, ${CALLERS} callers x ${BATCH_SIZE} transfers, --db-commit ${modes.at(-1)}: ` +
      `${r.transfersPerSec.toFixed(0)} transfers/s (${r.batchesPerSec.toFixed(0)} batches/s), failed calls ${r.errors}; ` +
      `CPU: server ${r.serverPercent.toFixed(0)}%, PostgreSQL ${r.pgPercent.toFixed(0)}%, load generator ${r.clientPercent.toFixed(0)}%`,
  );
  console.log(vsPgbench(r.transfersPerSec));
  await stopServer(server);
  console.log(`batch ledger after the run: ${await checkConserved(batchUrl, BATCH_ACCOUNTS, BATCH_BALANCE)}`);
}
console.log(`ledger after the runs: ${await checkConserved(url, ACCOUNTS, 1_000_000_000)}`);

if (ONLY.has('libs')) {
  const libs = await compareClients(await freshDatabase('ledgerctl_bench_clients'));
  for (const [name, r] of Object.entries(libs)) {
    console.log(
      `client ${name}: ${r.txPerSec.toFixed(0)} tx/s, ${r.clientCpuUsPerTx.toFixed(0)} us client CPU per tx`,
    );
  }
}
