/**
 * The attacks of issue 10 against `ledgerctl serve` (default flags, in-memory, its own process),
 * each while a sentinel client on its own connection calls GetBalance every 10 ms: the sentinel's
 * p99 during the abuse against its p99 alone just before, and the server's RSS (peak sampled
 * every 100 ms, and VmHWM). The misbehaving client (bench/abuse-worker.ts) runs in its own process
 * under `nice -n 19` by default: the issue's attacker is remote, and on a shared 2-core machine an
 * attacker at the server's priority takes the CPU from the server and the sentinel through the
 * kernel's scheduler, which no server can refuse. `--attacker thread` is the first two passes'
 * set-up (a worker thread of the bench process, normal priority, sharing a process with the
 * sentinel); `--attacker-nice 0` a separate process at normal priority. Each report says which,
 * with the attacker's rate and CPU beside the server's.
 *
 *   npm run build && node dist/bench/abuse-bench.js [--only header-only,watch,idle,snapshot] [--quick]
 *     [--attacker process|thread] [--attacker-nice 19] [--idle-connections 5000] [--sentinel process|bench]
 *
 * The sentinel runs in its own process (bench/sentinel-process.ts) so that its calls do not wait
 * behind this process's own work (forking the attacker, sampling /proc, its garbage); `--sentinel
 * bench` runs it here, as the first four passes did, to compare.
 *
 * BENCH_TRACE=/tmp/x writes /tmp/x-<kind>.json: every sentinel call's start (CLOCK_MONOTONIC ns, the
 * clock of `perf record -k mono`), latency and timer lateness, the abuse's start and the pids, to
 * line the calls up with a system-wide `perf record` of the same run.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { LedgerClient } from '../src/client/ledger-client.js';
import { procStatusBytes } from '../src/harness/process-rss.js';
import { fdTableSlots } from '../src/server/fd-table.js';
import type { AbuseKind, AbuseOrder, AbuseReport } from './abuse-worker.js';
import { loadAverage, processCpuMs } from './proc-stats.js';
import { type SentinelSample, sentinelLoop } from './sentinel-loop.js';

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'header-only,watch,idle,snapshot' },
    quick: { type: 'boolean', default: false },
    attacker: { type: 'string', default: 'process' },
    'attacker-nice': { type: 'string', default: '19' },
    /** The idle attack's connection count (default 5,000; 1 measures what starting the attacker costs alone). */
    'idle-connections': { type: 'string' },
    /** Where the sentinel runs: its own process (default) or this one (the first four passes). */
    sentinel: { type: 'string', default: 'process' },
  },
});
if (values.sentinel !== 'process' && values.sentinel !== 'bench') {
  throw new Error(`--sentinel must be process or bench, not ${values.sentinel}`);
}
const sentinelMode = values.sentinel;
if (values.attacker !== 'process' && values.attacker !== 'thread') {
  throw new Error(`--attacker must be process or thread, not ${values.attacker}`);
}
const attackerMode = values.attacker;
const attackerNice = Number(values['attacker-nice']);
const quick = values.quick;
const kinds = values.only.split(',').map((k) => k.trim()) as AbuseKind[];

const ORDERS: Record<AbuseKind, Omit<AbuseOrder, 'target' | 'kind'>> = {
  'header-only': { total: quick ? 60_000 : 600_000, connections: 20, maxDurationMs: quick ? 8_000 : 30_000 },
  watch: { total: quick ? 10_000 : 100_000, connections: 100, maxDurationMs: quick ? 8_000 : 30_000 },
  idle: {
    total:
      values['idle-connections'] !== undefined ? Number(values['idle-connections']) : quick ? 2_000 : 5_000,
    connections: 0,
    maxDurationMs: 20_000,
  },
  snapshot: { total: 1_000, connections: 1, maxDurationMs: 5_000 },
};
const SNAPSHOT_ACCOUNTS = 22_000;
const IDLE_MS = quick ? 3_000 : 6_000;
const AFTER_MS = quick ? 2_000 : 5_000;
const SENTINEL_PERIOD_MS = 10;
const mib = (bytes: number | undefined) =>
  bytes === undefined ? 'n/a' : `${(bytes / 2 ** 20).toFixed(0)} MiB`;

interface Server {
  child: ChildProcess;
  target: string;
}

function startServer(): Promise<Server> {
  // BENCH_SERVER_CLI: another build's bin/ledgerctl.js (a before/after pair in one session).
  const cli =
    process.env.BENCH_SERVER_CLI ?? fileURLToPath(new URL('../../bin/ledgerctl.js', import.meta.url));
  // BENCH_SERVER_FLAGS: extra node flags for the server (e.g. --cpu-prof --cpu-prof-dir=/tmp/prof).
  const flags = process.env.BENCH_SERVER_FLAGS?.split(' ').filter(Boolean) ?? [];
  // BENCH_SERVE_ARGS: serve flags other than the defaults (to try a limit; the report says so).
  const serveArgs = process.env.BENCH_SERVE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(
    process.execPath,
    [...flags, cli, 'serve', '--in-memory', '--port', '0', '--log-level', 'fatal', ...serveArgs],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    let out = '';
    const untilListening = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /listening on (\S+)/.exec(out);
      if (match === null) return;
      // What the server prints later (--trace-gc lines, say) goes to stderr.
      child.stdout!.off('data', untilListening);
      child.stdout!.pipe(process.stderr);
      resolve({ child, target: match[1]! });
    };
    child.stdout!.on('data', untilListening);
    child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
}

type Phase = 'idle' | 'abuse' | 'after';

/**
 * GetBalance every SENTINEL_PERIOD_MS on its own connection, by default in its own process
 * (sentinel-process.ts; `--sentinel bench` runs it in this process, as the first four passes did).
 * A call counts in the phase in which it started; phases are marked on the monotonic clock.
 */
class Sentinel {
  samples: SentinelSample[] = [];
  private readonly phaseStartNs: { phase: Phase; ns: number }[] = [{ phase: 'idle', ns: 0 }];
  private child: ChildProcess | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;

  constructor(private readonly target: string) {}

  start(): void {
    if (sentinelMode === 'bench') {
      this.loop = sentinelLoop(this.target, SENTINEL_PERIOD_MS, () => this.stopped, this.samples);
      return;
    }
    const script = fileURLToPath(new URL('./sentinel-process.js', import.meta.url));
    this.child = fork(script, [this.target, String(SENTINEL_PERIOD_MS)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const child = this.child;
    this.loop = new Promise((resolve, reject) => {
      child.once('message', (m) => {
        this.samples = (m as { samples: SentinelSample[] }).samples;
        resolve();
      });
      child.once('exit', (code) => reject(new Error(`sentinel process exited (${code}) before its report`)));
    });
  }

  get pid(): number {
    return this.child?.pid ?? process.pid;
  }

  mark(phase: Phase): void {
    this.phaseStartNs.push({ phase, ns: Number(process.hrtime.bigint()) });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.child?.send('stop');
    await this.loop;
  }

  phaseOf(s: SentinelSample): Phase {
    let phase: Phase = 'idle';
    for (const p of this.phaseStartNs) if (s.t0Ns >= p.ns) phase = p.phase;
    return phase;
  }

  of(phase: Phase): SentinelSample[] {
    return this.samples.filter((s) => this.phaseOf(s) === phase);
  }

  /** The slowest calls of a phase, as "+start ms: latency ms" from `originNs` (where the tail sits in the attack). */
  slowest(phase: Phase, originNs: number, count: number): string {
    return this.of(phase)
      .sort((a, b) => b.us - a.us)
      .slice(0, count)
      .sort((a, b) => a.t0Ns - b.t0Ns)
      .map((s) => `+${((s.t0Ns - originNs) / 1e6).toFixed(0)}: ${(s.us / 1_000).toFixed(1)}`)
      .join(', ');
  }

  stats(phase: Phase): {
    n: number;
    p50Us: number;
    p99Us: number;
    maxUs: number;
    failed: number;
    maxLateUs: number;
  } {
    const xs = this.of(phase);
    const us = xs.map((s) => s.us).sort((a, b) => a - b);
    const at = (q: number) => us[Math.min(us.length - 1, Math.floor(q * us.length))] ?? Number.NaN;
    return {
      n: us.length,
      p50Us: at(0.5),
      p99Us: at(0.99),
      maxUs: us[us.length - 1] ?? Number.NaN,
      failed: xs.filter((s) => !s.ok).length,
      maxLateUs: Math.max(0, ...xs.map((s) => s.lateUs)),
    };
  }
}

interface Attacker {
  label: string;
  cpuMs(): number;
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): void;
  once(event: 'error', listener: (err: Error) => void): void;
}

function startAttacker(order: AbuseOrder): Attacker {
  const script = fileURLToPath(new URL('./abuse-worker.js', import.meta.url));
  if (attackerMode === 'thread') {
    const worker = new Worker(script, { workerData: order });
    return {
      label: 'worker thread of the bench process, normal priority',
      cpuMs: () => processCpuMs(process.pid),
      postMessage: (m) => worker.postMessage(m),
      on: (e, f) => worker.on(e, f),
      once: (e, f) => worker.once(e, f),
    };
  }
  // fork() runs `nice -n N node abuse-worker.js` with an IPC channel to it.
  const child = fork(script, [JSON.stringify(order)], {
    execPath: 'nice',
    execArgv: ['-n', String(attackerNice), process.execPath],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    label: `own process, nice ${attackerNice}`,
    cpuMs: () => processCpuMs(child.pid!),
    postMessage: (m) => child.send(m as object),
    on: (e, f) => child.on(e, f),
    once: (e, f) => child.once(e, f),
  };
}

async function populate(target: string, accounts: number): Promise<void> {
  const client = new LedgerClient(target, { deadlineMs: 60_000, channelKey: 'populate' });
  for (let i = 0; i < accounts; i += 5_000) {
    const operations = Array.from({ length: Math.min(5_000, accounts - i) }, (_, j) => ({
      create_account: { account_id: `acct-${String(i + j).padStart(6, '0')}`, initial_balance: '100' },
    }));
    await client.raw('ExecuteBatch', { operations });
  }
  client.close();
}

async function scenario(kind: AbuseKind): Promise<string> {
  const server = await startServer();
  const pid = server.child.pid!;
  const setup = new LedgerClient(server.target, { deadlineMs: 10_000, channelKey: 'setup' });
  await setup.createAccount('sentinel', 1n);
  setup.close();
  if (kind === 'snapshot') await populate(server.target, SNAPSHOT_ACCOUNTS);
  const rssBefore = procStatusBytes(pid, ['VmRSS'])?.VmRSS;
  const fdSlotsBefore = fdTableSlots(pid);

  const sentinel = new Sentinel(server.target);
  sentinel.start();
  await new Promise((r) => setTimeout(r, IDLE_MS));

  let peakRss = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, procStatusBytes(pid, ['VmRSS'])?.VmRSS ?? 0);
  }, 100);
  sentinel.mark('abuse');
  const cpuBefore = processCpuMs(pid);
  const abuseStart = performance.now();
  const abuseStartNs = Number(process.hrtime.bigint());
  const loadBefore = loadAverage();
  const order: AbuseOrder = { kind, target: server.target, ...ORDERS[kind] };
  const attacker = startAttacker(order);
  const attackerCpuBefore = attacker.cpuMs();
  const flooded = await new Promise<AbuseReport>((resolve, reject) => {
    attacker.on('message', (m) => {
      if ((m as { type: string }).type === 'flooded') resolve(m as AbuseReport);
    });
    attacker.once('error', reject);
  });
  // The abuse holds what it holds (idle connections, open watches) a moment longer, then lets go.
  await new Promise((r) => setTimeout(r, 1_000));
  const abuseCpuMs = processCpuMs(pid) - cpuBefore;
  const attackerCpuMs = attacker.cpuMs() - attackerCpuBefore;
  const abuseMs = performance.now() - abuseStart;
  sentinel.mark('after');
  attacker.postMessage('release');
  const done = await new Promise<AbuseReport>((resolve) =>
    attacker.on('message', (m) => {
      if ((m as { type: string }).type === 'done') resolve(m as AbuseReport);
    }),
  );
  await new Promise((r) => setTimeout(r, AFTER_MS));
  clearInterval(sampler);
  await sentinel.stop();
  const hwm = procStatusBytes(pid, ['VmHWM'])?.VmHWM;
  const fdSlotsAfter = fdTableSlots(pid);
  // SIGINT lets a --cpu-prof server write its profile.
  server.child.kill('SIGINT');
  await new Promise((r) => server.child.once('exit', r));

  if (process.env.BENCH_TRACE) {
    writeFileSync(
      `${process.env.BENCH_TRACE}-${kind}.json`,
      JSON.stringify({
        abuseStartNs,
        serverPid: pid,
        target: server.target,
        benchPid: sentinel.pid,
        samples: sentinel.samples.map((x) => ({ ...x, phase: sentinel.phaseOf(x) })),
      }),
    );
  }
  const idle = sentinel.stats('idle');
  const abuse = sentinel.stats('abuse');
  const after = sentinel.stats('after');
  const ms = (us: number) => (us / 1_000).toFixed(2);
  return [
    `### ${kind}`,
    `- abuse: ${flooded.attempted} attempted in ${(flooded.durationMs / 1000).toFixed(1)} s over ${order.connections || flooded.attempted} connections; outcomes ${JSON.stringify(done.outcomes)}`,
    `- sentinel (${sentinelMode === 'process' ? 'own process' : 'in the bench process'}) GetBalance every ${SENTINEL_PERIOD_MS} ms: idle p50 ${ms(idle.p50Us)} / p99 ${ms(idle.p99Us)} ms (n=${idle.n}); during abuse p50 ${ms(abuse.p50Us)} / p99 ${ms(abuse.p99Us)} / max ${ms(abuse.maxUs)} ms (n=${abuse.n}, failed ${abuse.failed}); p99 ratio ${(abuse.p99Us / idle.p99Us).toFixed(2)}x; after p99 ${ms(after.p99Us)} ms (failed ${after.failed})`,
    `- the sentinel's own timer, latest: idle ${ms(idle.maxLateUs)} ms, abuse ${ms(abuse.maxLateUs)} ms (its process's pauses, not the server's)`,
    `- slowest sentinel calls during the abuse (ms after it began: latency ms): ${sentinel.slowest('abuse', abuseStartNs, 5)}`,
    `- server RSS: ${mib(rssBefore)} before, peak ${mib(peakRss)} sampled, VmHWM ${mib(hwm)}; descriptor table (FDSize) ${fdSlotsBefore} before, ${fdSlotsAfter} after (a growth in between slept in accept: src/server/fd-table.ts)`,
    `- server CPU during the abuse: ${(abuseCpuMs / 1000).toFixed(1)} s in ${(abuseMs / 1000).toFixed(1)} s (${((abuseCpuMs / abuseMs) * 100).toFixed(0)}% of a core); load average ${loadBefore} before, ${loadAverage()} after`,
    `- attacker (${attacker.label}): ${(flooded.attempted / (flooded.durationMs / 1000)).toFixed(0)} attempts/s; CPU ${(attackerCpuMs / 1000).toFixed(1)} s (${((attackerCpuMs / abuseMs) * 100).toFixed(0)}% of a core${attackerMode === 'thread' ? ', the bench process: attacker thread + sentinel' : ''})`,
  ].join('\n');
}

console.log(
  `abuse bench${quick ? ' (quick)' : ''}: ${process.env.BENCH_SERVER_CLI ?? 'ledgerctl'} serve --in-memory with ${process.env.BENCH_SERVE_ARGS ? `flags ${process.env.BENCH_SERVE_ARGS}` : 'default limits'}; attacker: ${attackerMode === 'thread' ? 'worker thread' : `own process, nice ${attackerNice}`}`,
);
for (const kind of kinds) console.log(await scenario(kind));
