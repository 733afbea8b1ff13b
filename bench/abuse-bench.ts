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
 *     [--attacker process|thread] [--attacker-nice 19] [--idle-connections 5000]
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

const { values } = parseArgs({
  options: {
    only: { type: 'string', default: 'header-only,watch,idle,snapshot' },
    quick: { type: 'boolean', default: false },
    attacker: { type: 'string', default: 'process' },
    'attacker-nice': { type: 'string', default: '19' },
    /** The idle attack's connection count (default 5,000; 1 measures what starting the attacker costs alone). */
    'idle-connections': { type: 'string' },
  },
});
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

/** GetBalance every SENTINEL_PERIOD_MS on its own connection; latencies in µs, tagged by phase. */
class Sentinel {
  /** atMs: when the call started, performance.now(). */
  readonly samples: { phase: string; us: number; ok: boolean; atMs: number; t0Ns: number; lateUs: number }[] =
    [];
  phase = 'idle';
  private running = true;
  private readonly client: LedgerClient;
  private loop: Promise<void> | undefined;

  constructor(target: string) {
    this.client = new LedgerClient(target, { deadlineMs: 10_000, channelKey: 'sentinel' });
  }

  start(): void {
    this.loop = (async () => {
      let lateUs = 0;
      while (this.running) {
        const t0 = process.hrtime.bigint();
        const atMs = performance.now();
        let ok = true;
        try {
          await this.client.getBalance('sentinel');
        } catch {
          ok = false;
        }
        const us = Number(process.hrtime.bigint() - t0) / 1_000;
        this.samples.push({ phase: this.phase, us, ok, atMs, t0Ns: Number(t0), lateUs });
        const wait = SENTINEL_PERIOD_MS - us / 1_000;
        lateUs = 0;
        if (wait > 0) {
          const due = performance.now() + wait;
          await new Promise((r) => setTimeout(r, wait));
          lateUs = (performance.now() - due) * 1_000;
        }
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client.close();
  }

  /** The slowest calls of a phase, as "+start ms: latency ms" from `originMs` (where the tail sits in the attack). */
  slowest(phase: string, originMs: number, count: number): string {
    return this.samples
      .filter((s) => s.phase === phase)
      .sort((a, b) => b.us - a.us)
      .slice(0, count)
      .sort((a, b) => a.atMs - b.atMs)
      .map((s) => `+${(s.atMs - originMs).toFixed(0)}: ${(s.us / 1_000).toFixed(1)}`)
      .join(', ');
  }

  stats(phase: string): { n: number; p50Us: number; p99Us: number; maxUs: number; failed: number } {
    const xs = this.samples.filter((s) => s.phase === phase);
    const us = xs.map((s) => s.us).sort((a, b) => a - b);
    const at = (q: number) => us[Math.min(us.length - 1, Math.floor(q * us.length))] ?? Number.NaN;
    return {
      n: us.length,
      p50Us: at(0.5),
      p99Us: at(0.99),
      maxUs: us[us.length - 1] ?? Number.NaN,
      failed: xs.filter((s) => !s.ok).length,
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
  sentinel.phase = 'abuse';
  const cpuBefore = processCpuMs(pid);
  const abuseStart = performance.now();
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
  sentinel.phase = 'after';
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
    const abuseStartNs = Number(process.hrtime.bigint()) - (performance.now() - abuseStart) * 1e6;
    writeFileSync(
      `${process.env.BENCH_TRACE}-${kind}.json`,
      JSON.stringify({
        abuseStartNs,
        serverPid: pid,
        target: server.target,
        benchPid: process.pid,
        samples: sentinel.samples,
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
    `- sentinel GetBalance every ${SENTINEL_PERIOD_MS} ms: idle p50 ${ms(idle.p50Us)} / p99 ${ms(idle.p99Us)} ms (n=${idle.n}); during abuse p50 ${ms(abuse.p50Us)} / p99 ${ms(abuse.p99Us)} / max ${ms(abuse.maxUs)} ms (n=${abuse.n}, failed ${abuse.failed}); p99 ratio ${(abuse.p99Us / idle.p99Us).toFixed(2)}x; after p99 ${ms(after.p99Us)} ms (failed ${after.failed})`,
    `- slowest sentinel calls during the abuse (ms after it began: latency ms): ${sentinel.slowest('abuse', abuseStart, 5)}`,
    `- server RSS: ${mib(rssBefore)} before, peak ${mib(peakRss)} sampled, VmHWM ${mib(hwm)}; descriptor table (FDSize) ${fdSlotsBefore} before, ${fdSlotsAfter} after (a growth in between slept in accept: src/server/fd-table.ts)`,
    `- server CPU during the abuse: ${(abuseCpuMs / 1000).toFixed(1)} s in ${(abuseMs / 1000).toFixed(1)} s (${((abuseCpuMs / abuseMs) * 100).toFixed(0)}% of a core); load average ${loadBefore} before, ${loadAverage()} after`,
    `- attacker (${attacker.label}): ${(flooded.attempted / (flooded.durationMs / 1000)).toFixed(0)} attempts/s; CPU ${(attackerCpuMs / 1000).toFixed(1)} s (${((attackerCpuMs / abuseMs) * 100).toFixed(0)}% of a core${attackerMode === 'thread' ? ', the bench process: attacker thread + sentinel' : ''})`,
  ].join('\n');
}

console.log(
  `abuse bench${quick ? ' (quick)' : ''}: ${process.env.BENCH_SERVER_CLI ?? 'ledgerctl'} serve --in-memory with ${process.env.BENCH_SERVE_ARGS ? `flags ${process.env.BENCH_SERVE_ARGS}` : 'default limits'}; attacker: ${attackerMode === 'thread' ? 'worker thread' : `own process, nice ${attackerNice}`}`,
);
for (const kind of kinds) console.log(await scenario(kind));
