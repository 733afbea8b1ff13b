import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LedgerClient } from '../src/client/ledger-client.js';
import type { OpKind } from '../src/harness/history.js';
import { encodeRequest, METHOD_PATHS } from '../src/harness/ledger-messages.js';
import type { ServerKind } from './server-child.js';
import { ServerProcess } from './server-process.js';
import { runTimed, runTimedH2load } from './timed-child.js';

/**
 * Fidelity of `ledgerctl stress` against an independent generator (h2load, nghttp2) on the same
 * server (a child process) in the same minute: open loop at a rate, get 60 / update 20 /
 * transfer 20, p50/p99 per op from each tool. h2load replays one fixed request per method (its
 * writes are replays after the first; the report's server-time column shows what that changes),
 * measures from the actual send and runs one process per op at 60/20/20% of the rate. Rounds
 * alternate which tool goes first. Also: closed-loop throughput of both (--closed) and the
 * open-loop ceiling against a server that does no work (--server null --rate 20000).
 *
 * node dist/bench/fidelity.js [--rate 500] [--seconds 15] [--rounds 2] [--server real|bare|null] [--closed]
 */
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '15' },
    rounds: { type: 'string', default: '2' },
    server: { type: 'string', default: 'real' },
    closed: { type: 'boolean', default: false },
    callers: { type: 'string', default: '64' },
    'stress-only': { type: 'boolean', default: false },
    'generator-threads': { type: 'string', default: '1' },
    connections: { type: 'string', default: '4' },
  },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const warmupS = 2;
const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-fidelity-'));
const MIX: [OpKind, number][] = [
  ['get', 0.6],
  ['update', 0.2],
  ['transfer', 0.2],
];

interface Percentiles {
  count: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

function percentiles(valuesUs: number[]): Percentiles {
  const v = [...valuesUs].sort((a, b) => a - b);
  const at = (q: number) => (v[Math.min(v.length - 1, Math.floor(q * v.length))] ?? 0) / 1000;
  return { count: v.length, p50Ms: at(0.5), p99Ms: at(0.99), p999Ms: at(0.999) };
}

async function h2loadOpen(
  target: string,
): Promise<{ ops: Record<string, Percentiles>; cpuS: number; requests: number }> {
  const runs = MIX.map(async ([op, share]) => {
    const body = join(dir, `${op}.bin`);
    const log = join(dir, `${op}.log`);
    writeFileSync(log, '');
    const { stdout, cpuS } = await runTimedH2load(
      `http://${target}${METHOD_PATHS[op]}`,
      body,
      { seconds, warmupS },
      ['-c', '1', '-m', '1000', '--rps', String(Math.round(rate * share)), '--log-file', log],
    );
    if (!/succeeded/.test(stdout)) throw new Error(`h2load ${op}: ${stdout}`);
    const times = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => Number(l.split('\t')[2]));
    return { op, p: percentiles(times), cpuS };
  });
  const done = await Promise.all(runs);
  return {
    ops: Object.fromEntries(done.map((d) => [d.op, d.p])),
    cpuS: done.reduce((s, d) => s + d.cpuS, 0),
    requests: done.reduce((s, d) => s + d.p.count, 0),
  };
}

function scenarioText(open: boolean): string {
  const load = open
    ? `{ model: open, rate_per_s: ${rate}, arrivals: uniform, max_in_flight: 1000 }`
    : `{ model: closed, callers: ${values.callers} }`;
  return `name: fidelity
connections: ${values.connections}
${values['generator-threads'] === '1' ? '' : `generator: { threads: ${values['generator-threads']} }\n`}accounts:
  - { count: 1000, prefix: s-, balance: 1000000000 }
phases:
  - name: load
    groups:
      - name: mixed
        mix: { get: 60, update: 20, transfer: 20 }
        amount: { min: 1, max: 100 }
        delta: { min: -10, max: 10 }
        load: ${load}
        duration: ${(seconds + warmupS) * 1000}ms
        warmup: ${warmupS * 1000}ms
expect:
  invariants: [conservation, no-negative-balance]
`;
}

interface StressRun {
  ops: Record<string, Percentiles & { serverP99Ms?: number; serviceP99Ms: number }>;
  achievedPerS: number;
  dropped: number;
  floorP99Ms: number;
  /** The continuous probe's p99 while the load ran (the figure latency limits are judged against). */
  floorDuringP99Ms?: number;
  /** How late stress's sends left after their scheduled time (all ops). */
  sendLateP50Ms?: number;
  sendLateP99Ms?: number;
  generatorCpuUsPerCall: number;
  processCpuS: number;
}

async function stress(target: string, open: boolean): Promise<StressRun> {
  const file = join(dir, 'scenario.yaml');
  writeFileSync(file, scenarioText(open));
  const json = join(dir, 'stress.json');
  const { cpuS } = await runTimed('node', [
    'bin/ledgerctl.js',
    'stress',
    file,
    '--target',
    target,
    '--json',
    json,
    '--no-status',
  ]);
  const r = JSON.parse(readFileSync(json, 'utf8'));
  const ops: StressRun['ops'] = {};
  for (const o of r.ops) {
    ops[o.op] = {
      count: o.count,
      p50Ms: o.latencyUs.p50 / 1000,
      p99Ms: o.latencyUs.p99 / 1000,
      p999Ms: o.latencyUs.p999 / 1000,
      serverP99Ms: o.serverUs === undefined ? undefined : o.serverUs.p99 / 1000,
      // From the actual send, as h2load measures (the reported latency counts from the schedule).
      serviceP99Ms: o.serviceUs.p99 / 1000,
    };
  }
  const all = r.ops.find((o: { op: string }) => o.op === '*');
  const g = r.groups[0];
  const res = r.resources;
  return {
    ops,
    achievedPerS: open ? g.achievedRatePerS : all.throughputPerS,
    dropped: g.dropped ?? 0,
    floorP99Ms: r.floor.latencyUs.p99 / 1000,
    floorDuringP99Ms: r.floor.during === undefined ? undefined : r.floor.during.latencyUs.p99 / 1000,
    sendLateP50Ms: all.sendLatenessUs === undefined ? undefined : all.sendLatenessUs.p50 / 1000,
    sendLateP99Ms: all.sendLatenessUs === undefined ? undefined : all.sendLatenessUs.p99 / 1000,
    generatorCpuUsPerCall:
      ((res.generatorCpuCores ?? Number.NaN) * res.wallMs * 1000) / (all.count + all.warmup),
    processCpuS: cpuS,
  };
}

async function h2loadClosed(target: string): Promise<{ perS: number; cpuS: number }> {
  const { stdout, cpuS } = await runTimedH2load(
    `http://${target}${METHOD_PATHS.get}`,
    join(dir, 'get.bin'),
    { seconds, warmupS },
    ['-c', values.connections!, '-m', String(Math.ceil(Number(values.callers) / Number(values.connections)))],
  );
  const m = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(stdout);
  return { perS: Number(m?.[1] ?? Number.NaN), cpuS };
}

const server = await ServerProcess.start(values.server as ServerKind);
try {
  if (values.server !== 'null') {
    const client = new LedgerClient(server.target, { deadlineMs: 10_000 });
    for (let i = 0; i < 1000; i += 50)
      await Promise.all(
        Array.from({ length: 50 }, (_, k) => client.createAccount(`s-${i + k}`, 1_000_000_000n)),
      );
    client.close();
  }
  writeFileSync(join(dir, 'get.bin'), encodeRequest('get', { accountId: 's-1' }));
  writeFileSync(
    join(dir, 'update.bin'),
    encodeRequest('update', { accountId: 's-2', amount: 1n, transactionId: 'h2-u' }),
  );
  writeFileSync(
    join(dir, 'transfer.bin'),
    encodeRequest('transfer', { fromId: 's-3', toId: 's-4', amount: 1n, transactionId: 'h2-t' }),
  );
  const rows: object[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    const order = round % 2 === 0 ? ['h2load', 'stress'] : ['stress', 'h2load'];
    for (const tool of order) {
      const load = (await import('node:os')).loadavg()[0]!.toFixed(2);
      if (tool === 'h2load' && values['stress-only']) continue;
      if (values.closed) {
        const r = tool === 'h2load' ? await h2loadClosed(server.target) : await stress(server.target, false);
        rows.push({ round, tool, load, ...r });
      } else {
        const r = tool === 'h2load' ? await h2loadOpen(server.target) : await stress(server.target, true);
        rows.push({ round, tool, load, ...r });
      }
      process.stderr.write(`${JSON.stringify(rows[rows.length - 1])}\n`);
    }
  }
  process.stdout.write(
    `${JSON.stringify({ rate, seconds, server: values.server, closed: values.closed, rows }, null, 1)}\n`,
  );
} finally {
  await server.stop();
  spawn('rm', ['-rf', dir]);
}
