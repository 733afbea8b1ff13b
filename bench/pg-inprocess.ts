import postgres from 'postgres';
import { type PgCommitMode, type PgDecideMode, PgLedger } from '../src/engine/postgres/pg-ledger.js';
import { processCpuMs } from './proc-stats.js';

/**
 * PgLedger without gRPC: N callers in this process send transfers (each with a transaction id)
 * for a few seconds; writes/s, writes per group and latency. Isolates the write path's database
 * cost from the gRPC hop that bench/pg-bench.ts includes.
 * Usage: npm run build && node dist/bench/pg-inprocess.js <auto|overlap|per-group> [callers] [groups in flight] [seconds] [cached|locked]
 * (LEDGER_BENCH_DATABASE_URL: an admin URL, default postgres://postgres:postgres@127.0.0.1:5432/postgres)
 */
const ADMIN_URL =
  process.env.LEDGER_BENCH_DATABASE_URL ?? 'postgres://postgres:postgres@127.0.0.1:5432/postgres';
const mode = (process.argv[2] ?? 'overlap') as PgCommitMode;
const callers = Number(process.argv[3] ?? 16);
const groupsInFlight = Number(process.argv[4] ?? 2);
const seconds = Number(process.argv[5] ?? 5);
const decide = (process.argv[6] ?? 'cached') as PgDecideMode;
const ACCOUNTS = 1_000;

const admin = postgres(ADMIN_URL, { max: 1, onnotice: () => {} });
await admin.unsafe('DROP DATABASE IF EXISTS ledgerctl_bench_inprocess WITH (FORCE)');
await admin.unsafe('CREATE DATABASE ledgerctl_bench_inprocess');
await admin.end();
const url = new URL(ADMIN_URL);
url.pathname = '/ledgerctl_bench_inprocess';
const ledger = await PgLedger.open({
  url: url.toString(),
  migrate: true,
  poolSize: 8,
  statementTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  commitMode: mode,
  groupsInFlight,
  decide,
});
for (let i = 0; i < ACCOUNTS; i++)
  await ledger.createAccount({ accountId: `a${i}`, initialBalance: 1_000_000n });
// CPU of this database's backends (the ledger's pool, all open after a warm-up) and of this
// process, per write: less noisy than wall-clock rates on a shared machine.
const watcher = postgres(url.toString(), { max: 1, onnotice: () => {} });
let backends: number[] = [];
const backendCpuMs = () => backends.reduce((sum, pid) => sum + processCpuMs(pid), 0);
let writes = 0;
let measuring = false;
const latencyMs: number[] = [];
const warmUpMs = 1_000;
const until = performance.now() + warmUpMs + seconds * 1000;
const callersDone = Promise.all(
  Array.from({ length: callers }, async (_, c) => {
    for (let i = 0; performance.now() < until; i++) {
      const from = (c * 61 + i * 7) % ACCOUNTS;
      const t0 = performance.now();
      await ledger.transferFunds({
        fromId: `a${from}`,
        toId: `a${(from + 1) % ACCOUNTS}`,
        amount: 1n,
        transactionId: `t${c}-${i}-${Date.now()}`,
      });
      if (!measuring) continue;
      latencyMs.push(performance.now() - t0);
      writes++;
    }
  }),
);
await new Promise((r) => setTimeout(r, warmUpMs));
backends = (
  await watcher<{ pid: number }[]>`
    SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
).map((r) => r.pid);
const pg0 = backendCpuMs();
const cpu0 = process.cpuUsage();
const groupsBefore = ledger.stats.groups;
const cachedBefore = ledger.stats.cachedGroups;
const staleBefore = ledger.stats.staleGroups;
measuring = true;
await callersDone;
const pgUsPerWrite = ((backendCpuMs() - pg0) * 1000) / writes;
const cpu = process.cpuUsage(cpu0);
const processUsPerWrite = (cpu.user + cpu.system) / writes;
await watcher.end();
latencyMs.sort((a, b) => a - b);
const groups = ledger.stats.groups - groupsBefore;
console.log(
  `--db-commit ${mode}, ${callers} callers, ${groupsInFlight} groups in flight: ${(writes / seconds).toFixed(0)} writes/s, ` +
    `${(writes / groups).toFixed(1)} writes per group (--db-decide ${decide}: ${ledger.stats.cachedGroups - cachedBefore} ` +
    `groups committed from the cache, ${ledger.stats.staleGroups - staleBefore} stale), p50 ${latencyMs[latencyMs.length >> 1]!.toFixed(1)} ms, ` +
    `p99 ${latencyMs[Math.floor(latencyMs.length * 0.99)]!.toFixed(1)} ms; CPU per write: PostgreSQL backends ` +
    `${pgUsPerWrite.toFixed(0)} us (${backends.length} backends), this process ${processUsPerWrite.toFixed(0)} us`,
);
await ledger.close();
