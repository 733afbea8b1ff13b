import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LedgerClient } from '../src/client/ledger-client.js';
import { encodeRequest, METHOD_PATHS } from '../src/harness/ledger-messages.js';
import type { ServerKind } from './server-child.js';
import { ServerProcess } from './server-process.js';
import { runTimed, runTimedH2load } from './timed-child.js';

/**
 * The load engine's capacity (issue 8), `ledgerctl stress` beside h2load against one server in
 * a child process, in the same run, with both sides' CPU:
 *
 * - open loop (`--mode open`): GetBalance at a fixed rate; achieved rate, sends dropped at the
 *   in-flight cap, generator and server CPU per call. h2load at the same rate (4 clients, `--rps`
 *   each a quarter) shows what the server itself sustains.
 * - closed loop (`--mode closed`): N callers (stress) against h2load with the same number of
 *   streams in flight (`-c CONNECTIONS -m CALLERS/CONNECTIONS`); calls/s and CPU per call.
 *
 * Every op is GetBalance on both sides, so the comparison is like for like. Rounds alternate which
 * tool goes first; each tool's server CPU is the server process's own clock across that tool's run.
 *
 * node dist/bench/capacity.js [--mode open|closed] [--server null|h2-null|bare|real] [--rate 20000]
 *   [--seconds 5] [--rounds 2] [--callers 64] [--connections 4] [--generator-threads 1]
 */
const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'open' },
    server: { type: 'string', default: 'null' },
    rate: { type: 'string', default: '20000' },
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2' },
    callers: { type: 'string', default: '64' },
    connections: { type: 'string', default: '4' },
    'generator-threads': { type: 'string', default: '1' },
  },
});
const open = values.mode === 'open';
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const callers = Number(values.callers);
const warmupS = 2;
const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-capacity-'));

interface Row {
  tool: string;
  load: string;
  perS: number;
  calls: number;
  dropped?: number;
  droppedPct?: number;
  p99Ms?: number;
  /** The tool's whole process CPU per call (stress: start-up, setup and report included). */
  toolCpuUsPerCall: number;
  /** stress only: the generator's own thread clock per call (what the report prints). */
  generatorCpuUsPerCall?: number;
  serverCpuUsPerCall: number;
}

async function serverCpuS(server: ServerProcess): Promise<number> {
  const s = await server.cpu();
  return (s.userUs + s.systemUs) / 1e6;
}

function scenario(): string {
  const load = open
    ? `{ model: open, rate_per_s: ${rate}, arrivals: uniform, max_in_flight: 1000 }`
    : `{ model: closed, callers: ${callers} }`;
  const threads = values['generator-threads'];
  return `name: capacity
connections: ${connections}
${threads === '1' ? '' : `generator: { threads: ${threads} }\n`}accounts:
  - { count: 1000, prefix: s-, balance: 1000000000 }
phases:
  - name: load
    groups:
      - name: get
        mix: { get: 100 }
        load: ${load}
        duration: ${(seconds + warmupS) * 1000}ms
        warmup: ${warmupS * 1000}ms
`;
}

async function stress(server: ServerProcess): Promise<Row> {
  const file = join(dir, 'scenario.yaml');
  writeFileSync(file, scenario());
  const json = join(dir, 'stress.json');
  const load = loadavg()[0]!.toFixed(2);
  const before = await serverCpuS(server);
  const { cpuS } = await runTimed('node', [
    'bin/ledgerctl.js',
    'stress',
    file,
    '--target',
    server.target,
    '--json',
    json,
    '--no-status',
  ]);
  const serverS = (await serverCpuS(server)) - before;
  const r = JSON.parse(readFileSync(json, 'utf8'));
  const all = r.ops.find((o: { op: string }) => o.op === '*');
  const g = r.groups[0];
  const res = r.resources;
  const sent = all.count + all.warmup;
  const dropped = g.dropped ?? 0;
  return {
    tool: 'stress',
    load,
    perS: open ? g.achievedRatePerS : all.throughputPerS,
    calls: sent,
    ...(open ? { dropped, droppedPct: (100 * dropped) / (sent + dropped) } : {}),
    p99Ms: all.latencyUs.p99 / 1000,
    toolCpuUsPerCall: (cpuS * 1e6) / sent,
    generatorCpuUsPerCall: ((res.generatorCpuCores ?? Number.NaN) * res.wallMs * 1000) / sent,
    // Setup (1,000 CreateAccount) and the calibration's own responder are not this server's load
    // at the rate, but setup is: a small share against seconds of load.
    serverCpuUsPerCall: (serverS * 1e6) / sent,
  };
}

async function h2load(server: ServerProcess): Promise<Row> {
  const load = loadavg()[0]!.toFixed(2);
  const before = await serverCpuS(server);
  const perClient = open ? ['-m', '1000', '--rps', String(Math.round(rate / connections))] : [];
  const { stdout, cpuS } = await runTimedH2load(
    `http://${server.target}${METHOD_PATHS.get}`,
    join(dir, 'get.bin'),
    { seconds, warmupS },
    ['-c', String(connections), ...(open ? perClient : ['-m', String(Math.ceil(callers / connections))])],
  );
  const serverS = (await serverCpuS(server)) - before;
  const perS = Number(/finished in [\d.]+s, ([\d.]+) req\/s/.exec(stdout)?.[1] ?? Number.NaN);
  const done = Number(/requests: \d+ total, \d+ started, (\d+) done/.exec(stdout)?.[1] ?? Number.NaN);
  // The warm-up's calls are not in h2load's counts: CPU per call over the measured ones plus
  // the warm-up at the same rate.
  const calls = done + perS * warmupS;
  return {
    tool: 'h2load',
    load,
    perS,
    calls: done,
    toolCpuUsPerCall: (cpuS * 1e6) / calls,
    serverCpuUsPerCall: (serverS * 1e6) / calls,
  };
}

const server = await ServerProcess.start(values.server as ServerKind);
try {
  if (!values.server!.endsWith('null')) {
    const client = new LedgerClient(server.target, { deadlineMs: 10_000 });
    await client.createAccount('s-1', 1_000_000_000n).catch(() => {});
    client.close();
  }
  writeFileSync(join(dir, 'get.bin'), encodeRequest('get', { accountId: 's-1' }));
  const rows: Row[] = [];
  for (let round = 0; round < Number(values.rounds); round++) {
    for (const tool of round % 2 === 0 ? ['h2load', 'stress'] : ['stress', 'h2load']) {
      const row = tool === 'h2load' ? await h2load(server) : await stress(server);
      rows.push(row);
      process.stderr.write(`${JSON.stringify({ round, ...row })}\n`);
    }
  }
  process.stdout.write(
    `${JSON.stringify({ mode: values.mode, server: values.server, rate, seconds, callers, connections, rows }, null, 1)}\n`,
  );
} finally {
  await server.stop();
}
