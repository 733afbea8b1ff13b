import os from 'node:os';
import { parseArgs } from 'node:util';
import type { BenchClientKind } from './bench-client.js';
import type { HotFunction } from './cpu-profile.js';
import { runEngineBench } from './engine-bench.js';
import { runGrpcBench } from './grpc-bench.js';
import { runHarnessBench } from './harness-bench.js';
import { GRPC_OPS, type GrpcOp } from './load-spec.js';
import { runMemoryBench } from './memory-bench.js';
import { type BenchResult, machineInfo, renderTable, writeJsonReport } from './report.js';
import type { ServerKind } from './server-child.js';

const USAGE = `usage: node dist/bench/main.js [--quick] [--json FILE] [--only engine,memory,grpc,grpc-closed,grpc-open,harness]
       [--gen-workers N] [--connections N] [--concurrency N] [--open-rate N] [--client raw|typed|h2] [--profile]
       [--harness-rates R,R,...] [--harness-connections N] [--servers bare,real,durable]
       [--open-mix get:60,update:20,transfer:20]`;

const SECTIONS = ['engine', 'memory', 'grpc-closed', 'grpc-open', 'harness'] as const;
type Section = (typeof SECTIONS)[number];

function clientKind(text: string): BenchClientKind {
  if (text !== 'raw' && text !== 'typed' && text !== 'h2')
    throw new Error(`--client must be raw, typed or h2, got ${text}`);
  return text;
}

function serverKind(text: string): ServerKind {
  if (text !== 'bare' && text !== 'real' && text !== 'durable')
    throw new Error(`--servers takes bare, real, durable; got ${text}`);
  return text;
}

/** `get:60,update:20,transfer:20` -> the shortest cycle with those shares (get x3, update, transfer). */
function openMix(text: string, int: (name: string, text: string) => number): GrpcOp[] {
  const parts = text.split(',').map((part) => {
    const [op, weight] = part.split(':');
    if (!GRPC_OPS.includes(op as GrpcOp) || weight === undefined)
      throw new Error(`--open-mix takes op:weight pairs of get, update, transfer; got ${part}`);
    return { op: op as GrpcOp, weight: int('open-mix', weight) };
  });
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const divisor = parts.reduce((g, p) => gcd(g, p.weight), 0);
  return parts.flatMap((p) => Array.from({ length: p.weight / divisor }, () => p.op));
}

function parse() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      only: { type: 'string' },
      'gen-workers': { type: 'string', default: '2' },
      connections: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '32' },
      'open-rate': { type: 'string', default: '500' },
      profile: { type: 'boolean', default: false },
      client: { type: 'string', default: 'raw' },
      'harness-rates': { type: 'string' },
      'harness-connections': { type: 'string', default: '4' },
      servers: { type: 'string', default: 'bare,real' },
      'open-mix': { type: 'string', default: 'get:1,update:1,transfer:1' },
      help: { type: 'boolean', default: false },
    },
  });
  const int = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${text}`);
    return n;
  };
  // 'grpc' is shorthand for both gRPC sections.
  const only = (values.only?.split(',') ?? SECTIONS).flatMap((s) =>
    s.trim() === 'grpc' ? ['grpc-closed', 'grpc-open'] : [s.trim()],
  );
  for (const s of only) if (!SECTIONS.includes(s as Section)) throw new Error(`--only: unknown section ${s}`);
  return {
    help: values.help,
    quick: values.quick,
    json: values.json,
    only: new Set(only as Section[]),
    genWorkers: int('gen-workers', values['gen-workers']),
    connections: int('connections', values.connections),
    concurrency: int('concurrency', values.concurrency),
    openRatePerSec: int('open-rate', values['open-rate']),
    profile: values.profile,
    client: clientKind(values.client),
    harnessRatesPerS: values['harness-rates']?.split(',').map((r) => int('harness-rates', r.trim())),
    harnessConnections: int('harness-connections', values['harness-connections']),
    servers: values.servers.split(',').map((s) => serverKind(s.trim())),
    openOps: openMix(values['open-mix'], int),
  };
}

async function main(): Promise<void> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse();
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }
  if (args.help) {
    console.log(USAGE);
    return;
  }
  const log = (line: string) => console.error(`[bench] ${line}`);
  const machine = machineInfo();
  log(
    `${machine.nproc} cpus (${machine.cpuModel}), node ${machine.node}, load ${machine.loadAverage1m.toFixed(2)}` +
      `${args.quick ? ', quick mode' : ''}`,
  );
  const started = performance.now();
  const results: BenchResult[] = [];
  const details: Record<string, unknown> = {};
  const profiles: Record<string, HotFunction[]> = {};
  if (args.only.has('engine')) {
    const engine = await runEngineBench({ quick: args.quick, profile: args.profile, log });
    results.push(...engine.results);
    details.engine = engine.details;
    if (engine.profile !== undefined) profiles['engine, transfer x64 in-process'] = engine.profile;
  }
  if (args.only.has('memory')) {
    const memory = await runMemoryBench(
      // The second case isolates the accounts from the audit-log window that their creates fill.
      args.quick
        ? [{ accounts: 100_000 }]
        : [{ accounts: 100_000 }, { accounts: 100_000, logWindowEntries: 1_000 }, { accounts: 1_000_000 }],
      log,
    );
    results.push(...memory.results);
    details.memory = memory.details;
  }
  if (args.only.has('grpc-closed') || args.only.has('grpc-open')) {
    const grpc = await runGrpcBench({
      ...args,
      closedLoop: args.only.has('grpc-closed'),
      openLoop: args.only.has('grpc-open'),
      log,
    });
    results.push(...grpc.results);
    details.grpc = grpc.details;
    for (const [kind, hot] of Object.entries(grpc.profiles)) profiles[`${kind} gRPC server process`] = hot;
  }
  if (args.only.has('harness')) {
    const harness = await runHarnessBench({
      quick: args.quick,
      ratesPerS: args.harnessRatesPerS,
      connections: args.harnessConnections,
      log,
    });
    results.push(...harness.results);
    details.harness = harness.details;
  }
  const elapsedSec = (performance.now() - started) / 1000;
  console.log(renderTable(results));
  for (const [where, hot] of Object.entries(profiles)) {
    console.log(`\nCPU profile (${where}), self time as a share of busy samples:`);
    for (const h of hot) console.log(`  ${h.selfPercent.toFixed(1).padStart(5)}%  ${h.function}`);
  }
  const missed = results.filter((r) => r.pass === false);
  const loadAfter = os.loadavg()[0] ?? 0;
  console.log(
    `\n${results.filter((r) => r.pass === true).length} targets met, ${missed.length} missed, ` +
      `${results.filter((r) => r.target !== undefined && r.pass === undefined).length} not measured; ` +
      `${elapsedSec.toFixed(0)} s; load average ${machine.loadAverage1m.toFixed(2)} -> ${loadAfter.toFixed(2)} ` +
      `on ${machine.nproc} cpus${loadAfter > machine.nproc * 0.5 ? ' (machine busy: numbers are noisy)' : ''}`,
  );
  if (args.json !== undefined) {
    await writeJsonReport(args.json, {
      command: `node dist/bench/main.js ${process.argv.slice(2).join(' ')}`.trim(),
      startedAt: new Date(Date.now() - elapsedSec * 1000).toISOString(),
      elapsedSec,
      machine: { ...machine, loadAverage1mAfter: loadAfter },
      options: { ...args, only: [...args.only] },
      results,
      details,
      ...(args.profile ? { profiles } : {}),
    });
    log(`wrote ${args.json}`);
  }
}

await main();
