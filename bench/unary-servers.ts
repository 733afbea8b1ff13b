import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LedgerClient } from '../src/client/ledger-client.js';
import { encodeRequest, METHOD_PATHS } from '../src/harness/ledger-messages.js';
import { summarizeCpuProfiles } from './cpu-profile.js';
import type { CpuSample, ServerKind } from './server-child.js';
import { ServerProcess } from './server-process.js';
import { runTimed, runTimedH2load } from './timed-child.js';

/**
 * Issue 11's unary comparison: the same load from `ledgerctl load --target` (get 60 / update 20 /
 * transfer 20 over 1,000 accounts) against a bare grpc-js server, the in-memory ledger and the
 * LMDB ledger, each in its own process, rounds in alternating order; p99 and calls/s from the
 * report, server CPU from the server process, generator CPU from GNU time around it.
 *
 * - open loop (default): `--rate` calls/s; the server's tail against the bare floor's.
 * - closed loop (`--callers N`): N callers each sending the next call on an answer; throughput.
 *   `--h2load` adds h2load's closed loop of GetBalance (N streams over 4 connections) on the same
 *   server: an independent generator for the read (writes need unique ids, which h2load's fixed
 *   body cannot give). Each round ends with the issue's ratios of calls/s within that round.
 *
 * Ledger servers run with serve's node flags (src/server/serve-node-flags.ts); BENCH_PLAIN_NODE=1
 * runs them on Node's defaults, BENCH_SERVER_FLAGS[_<KIND>] adds flags (e.g. --trace-gc, whose
 * lines then come out on this process's stdout). `--profile DIR` runs each server under
 * `node --cpu-prof` (profiles in DIR/<kind>-<round>) and prints where its time went; profiling
 * costs CPU, so calls/s of such a run are not comparable with an unprofiled one.
 *
 * node dist/bench/unary-servers.js [--rate 3000 | --callers 64 [--h2load]] [--seconds 10]
 *   [--rounds 2] [--kinds bare,real,durable] [--profile DIR]
 */
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '3000' },
    callers: { type: 'string' },
    h2load: { type: 'boolean', default: false },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    kinds: { type: 'string', default: 'bare,real,durable' },
    profile: { type: 'string' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-unary-servers-'));
const kinds = values.kinds.split(',') as ServerKind[];
const cpuUs = (s: CpuSample) => s.userUs + s.systemUs;
const closed = values.callers !== undefined;
const WARMUP_S = 2;

interface LoadReport {
  ops: { op: string; count: number; warmup: number; throughputPerS: number; latencyUs: { p99: number } }[];
}

async function ledgerLoad(server: ServerProcess, json: string): Promise<object> {
  const before = await server.cpu();
  const { cpuS } = await runTimed('node', [
    'bin/ledgerctl.js',
    'load',
    '--target',
    server.target,
    ...(closed ? ['--callers', values.callers!] : ['--rate', values.rate]),
    '--mix',
    'get=60,update=20,transfer=20',
    '--accounts',
    '1000',
    '--duration',
    `${values.seconds}s`,
    '--warmup',
    `${WARMUP_S}s`,
    '--no-status',
    '--json',
    json,
  ]);
  const after = await server.cpu();
  // A bare server's fixed answers fail the invariants (exit 1); the report is still written.
  const report = JSON.parse(readFileSync(json, 'utf8')) as LoadReport;
  const all = report.ops.find((o) => o.op === '*')!;
  const calls = all.count + all.warmup;
  return {
    ...(closed ? { callsPerS: Math.round(all.throughputPerS) } : {}),
    p99Ms: Object.fromEntries(report.ops.map((o) => [o.op, o.latencyUs.p99 / 1000])),
    // Over the whole run (account set-up, warm-up and the invariant checks' reads included).
    serverCpuUsPerCall: Math.round((cpuUs(after) - cpuUs(before)) / calls),
    generatorCpuUsPerCall: Math.round((cpuS * 1e6) / calls),
  };
}

async function h2loadGets(server: ServerProcess): Promise<object> {
  const client = new LedgerClient(server.target, { deadlineMs: 10_000 });
  await client.createAccount('s-1', 1_000_000_000n).catch(() => {});
  client.close();
  const body = join(dir, 'get.bin');
  writeFileSync(body, encodeRequest('get', { accountId: 's-1' }));
  const before = await server.cpu();
  const { stdout, cpuS } = await runTimedH2load(
    `http://${server.target}${METHOD_PATHS.get}`,
    body,
    { seconds: Number(values.seconds), warmupS: WARMUP_S },
    ['-c', '4', '-m', String(Math.ceil(Number(values.callers) / 4))],
  );
  const after = await server.cpu();
  const perS = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? Number.NaN);
  const done = Number(/requests: \d+ total, \d+ started, (\d+) done/.exec(stdout)?.[1] ?? Number.NaN);
  // h2load does not count its warm-up's calls: they ran at about the same rate.
  const calls = done + perS * WARMUP_S;
  return {
    h2loadGetsPerS: Math.round(perS),
    h2loadServerCpuUsPerCall: Math.round((cpuUs(after) - cpuUs(before)) / calls),
    h2loadCpuUsPerCall: Math.round((cpuS * 1e6) / calls),
  };
}

/** The ratios within one round: in memory / bare and durable / in memory, calls/s (closed loop). */
function roundRatios(round: number, rates: Map<ServerKind, number>): void {
  const ratio = (a: ServerKind, b: ServerKind) => {
    const x = rates.get(a);
    const y = rates.get(b);
    return x === undefined || y === undefined ? undefined : Math.round((x / y) * 1000) / 1000;
  };
  const ratios = { 'real/bare': ratio('real', 'bare'), 'durable/real': ratio('durable', 'real') };
  if (Object.values(ratios).some((r) => r !== undefined)) console.log(JSON.stringify({ round, ratios }));
}

for (let round = 0; round < Number(values.rounds); round++) {
  const rates = new Map<ServerKind, number>();
  for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
    const profileDir = values.profile === undefined ? undefined : join(values.profile, `${kind}-${round}`);
    const server = await ServerProcess.start(
      kind,
      profileDir,
      kind === 'durable' ? mkdtempSync(join(dir, 'data-')) : undefined,
    );
    try {
      const load = loadavg()[0]!.toFixed(2);
      const ledger = await ledgerLoad(server, join(dir, `${kind}-${round}.json`));
      if ('callsPerS' in ledger) rates.set(kind, ledger.callsPerS as number);
      const gets = closed && values.h2load ? await h2loadGets(server) : {};
      console.log(JSON.stringify({ round, server: kind, load, ...ledger, ...gets }));
    } finally {
      await server.stop();
    }
    if (profileDir !== undefined) {
      for (const hot of await summarizeCpuProfiles(profileDir, 40))
        console.log(`  ${hot.selfPercent.toFixed(1).padStart(5)}%  ${hot.function}`);
    }
  }
  if (closed) roundRatios(round, rates);
}
