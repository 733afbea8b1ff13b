import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LedgerCallError, LedgerClient } from '../client/ledger-client.js';
import { LIMITS } from '../domain/limits.js';
import { type CallSource, mixSource, scriptedSource } from './call-source.js';
import { checkInvariants } from './checkers/index.js';
import { runConformanceKit } from './conformance-entry.js';
import { runExitCode } from './exit-status.js';
import { FaultInjector, type FaultReport } from './fault-injector.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { InvariantVerdict, LogEntryView, OpRecord, RunObservation, SnapshotView } from './history.js';
import { type InProcessServer, startInProcessServer } from './in-process-server.js';
import { type ProcessMemory, processMemory } from './process-rss.js';
import type { GroupResult } from './run-group.js';
import { callerSlots } from './run-group.js';
import { RunIds } from './run-ids.js';
import { type PhaseGroup, runPhase } from './run-phase.js';
import { RunRecorder } from './run-recorder.js';
import type { LatencySummary, OpSummary, ResourceReport, RunResult, StuckPhaseReport } from './run-result.js';
import type { Scenario } from './scenario-schema.js';
import { SeededRandom } from './seeded-random.js';
import type { ServerResourceSample } from './server-worker-protocol.js';
import { SpawnedServer } from './spawned-server.js';
import { StatusLine } from './status-line.js';
import { threadCpuMs } from './thread-cpu.js';
import { evaluateThreshold, type MetricSource, parseThreshold, type Threshold } from './thresholds.js';

export interface RunOptions {
  /** Shown in reports. */
  file: string;
  /** Remote servers (host:port); the in-process server when absent. */
  targets?: string[];
  seed?: number;
  /** JSONL history for external checkers. */
  historyFile?: string;
  /** Live status line on stderr. */
  status?: boolean;
}

/** The run could not start for a reason the user can fix (exit 2): unreachable target, unusable scenario. */
export class RunSetupError extends Error {
  override readonly name = 'RunSetupError';
}

const WRITE_OPS = new Set(['create', 'update', 'transfer']);

export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunResult> {
  const seed = options.seed ?? scenario.seed ?? randomInt(2 ** 31);
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  let server: InProcessServer | undefined;
  let spawned: SpawnedServer | undefined;
  let dataDir: string | undefined;
  let targets = options.targets;
  if (scenario.server.mode === 'spawned') {
    if (targets !== undefined) {
      throw new RunSetupError(
        `scenario ${scenario.name} starts its own server (server: { mode: spawned }): run it without --target`,
      );
    }
    dataDir =
      scenario.server.in_memory === true ? undefined : mkdtempSync(join(tmpdir(), 'ledgerctl-stress-'));
    spawned = new SpawnedServer({ dataDir, args: serveArgs(scenario.server) });
    try {
      await spawned.start();
    } catch (err) {
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
      throw new RunSetupError(err instanceof Error ? err.message : String(err));
    }
    targets = [spawned.target];
  } else if (targets === undefined) {
    server = await startInProcessServer({
      locking: scenario.server.locking,
      txidTtlMs: scenario.server.txid_ttl,
      txidSweepThreshold: scenario.server.txid_sweep_threshold,
      maxTxids: scenario.server.max_txids,
      logWindowEntries: scenario.server.log_window_entries,
      maxInFlightCalls: scenario.server.max_in_flight_calls,
      commitDelayMs: scenario.server.commit_delay_ms,
      unsafeLocking: scenario.server.test_double?.unsafe_locking,
    });
    targets = [server.target];
  }
  const connections = scenario.connections ?? HARNESS_LIMITS.defaultConnectionsPerTarget;
  const openClients = (target: string) =>
    Array.from(
      { length: connections },
      (_, i) =>
        new LedgerClient(target, {
          channelKey: `ledgerctl-stress-${i}`,
          maxResponseBytes: LIMITS.maxClientResponseBytes,
        }),
    );
  const ready = (clients: LedgerClient[]) =>
    Promise.all(
      clients.map((c) =>
        c.waitForReady(HARNESS_LIMITS.targetConnectTimeoutMs).catch((err: Error) => {
          throw new RunSetupError(err.message);
        }),
      ),
    );
  // Callers read this array at every call: after a restart the fault injector swaps its entries.
  const clients = targets.flatMap(openClients);
  let result: RunResult | undefined;
  try {
    await ready(clients);
    const base = {
      scenario: scenario.name,
      file: options.file,
      seed,
      startedAt,
      target: server
        ? 'in-process'
        : spawned
          ? `spawned ledgerctl serve (${dataDir === undefined ? 'in-memory' : 'temp data dir'})`
          : targets.join(','),
    };
    if (scenario.kind === 'conformance') {
      const deadlineMs = scenario.deadline ?? HARNESS_LIMITS.defaultCallDeadlineMs;
      const { verdicts } = await runConformanceKit(targets[0]!, deadlineMs);
      const notes = targets.length > 1 ? [`conformance ran against ${targets[0]} only`] : [];
      return {
        ...base,
        kind: 'conformance',
        durationMs: performance.now() - t0,
        ops: [],
        groups: [],
        verdicts,
        thresholds: [],
        resources: undefined,
        stuckPhases: [],
        notes,
        exitCode: runExitCode(verdicts, []),
      };
    }
    // Remote servers are shared: prefix every id with a per-run nonce (see RunIds).
    const ids = new RunIds(server || spawned ? '' : `r${randomBytes(4).toString('hex')}-`);
    const connect = async (target: string) => {
      const fresh = openClients(target);
      await ready(fresh);
      return fresh;
    };
    const faultTarget = spawned === undefined ? undefined : { server: spawned, connect };
    result = { ...base, ...(await runLoad(scenario, options, seed, ids, clients, server, t0, faultTarget)) };
    if (dataDir !== undefined && result.exitCode !== 0) {
      result.notes.push(`data dir kept for inspection: ${dataDir}`);
    }
    return result;
  } finally {
    for (const c of clients) c.close();
    await server?.stop();
    await spawned?.stop();
    if (dataDir !== undefined && (result === undefined || result.exitCode === 0)) {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}

/** The `ledgerctl serve` flags for a spawned server's options. */
function serveArgs(options: Scenario['server']): string[] {
  const args = ['--locking', options.locking];
  if (options.txid_ttl !== undefined) args.push('--txid-ttl', `${Math.ceil(options.txid_ttl)}ms`);
  if (options.txid_sweep_threshold !== undefined)
    args.push('--txid-sweep-threshold', `${options.txid_sweep_threshold}`);
  if (options.max_txids !== undefined) args.push('--max-txids', `${options.max_txids}`);
  if (options.txid_cache !== undefined) args.push('--txid-cache', `${options.txid_cache}`);
  if (options.log_window_entries !== undefined) args.push('--log-window', `${options.log_window_entries}`);
  if (options.max_in_flight_calls !== undefined)
    args.push('--max-in-flight', `${options.max_in_flight_calls}`);
  return args;
}

interface FaultTarget {
  server: SpawnedServer;
  connect: (target: string) => Promise<LedgerClient[]>;
}

type LoadResult = Omit<RunResult, 'scenario' | 'file' | 'seed' | 'startedAt' | 'target'>;

async function runLoad(
  scenario: Scenario,
  options: RunOptions,
  seed: number,
  ids: RunIds,
  clients: LedgerClient[],
  server: InProcessServer | undefined,
  t0: number,
  faultTarget: FaultTarget | undefined,
): Promise<LoadResult> {
  const notes: string[] = [];
  const deadlineMs = scenario.deadline ?? HARNESS_LIMITS.defaultCallDeadlineMs;
  const setupAccounts = expandAccounts(scenario, ids);
  await createAccounts(clients, setupAccounts, deadlineMs);

  const initial = await snapshotOrUndefined(clients[0]!, deadlineMs);
  const initialLogPosition =
    initial?.logPosition ?? (await snapshotOrUndefined(clients[0]!, deadlineMs, false))?.logPosition;
  const initialBalances = new Map<string, bigint>();
  const initialVersions = new Map<string, bigint>();
  if (initial !== undefined) {
    for (const a of initial.accounts) {
      initialBalances.set(a.accountId, a.balance);
      initialVersions.set(a.accountId, a.version);
    }
  } else {
    notes.push('initial snapshot too large: initial balances are the scenario setup only');
    for (const a of setupAccounts) initialBalances.set(a.id, a.balance);
  }

  const recorder = new RunRecorder(options.historyFile);
  const random = new SeededRandom(seed);
  const pool = setupAccounts.map((a) => a.id);
  let callerBase = 0;
  const plan = scenario.phases.map((phase) => ({
    phase,
    groups: phase.groups.map((spec): PhaseGroup => {
      const acknowledged: string[] = [];
      const groupPool = spec.pool?.map((id) => ids.account(id)) ?? pool;
      const source: CallSource =
        spec.script !== undefined
          ? scriptedSource(spec.name, spec.script, ids)
          : mixSource(spec, checkPool(spec.name, spec.mix ?? {}, groupPool), ids, acknowledged);
      const group = { spec, source, callerBase, acknowledged, random: random.fork() };
      callerBase += callerSlots(spec);
      return group;
    }),
  }));

  const faultSpec = scenario.faults[0];
  const injector =
    faultSpec === undefined || faultTarget === undefined
      ? undefined
      : new FaultInjector(
          faultSpec,
          faultTarget.server,
          clients,
          faultTarget.connect,
          recorder,
          random.fork(),
          deadlineMs,
          callerBase,
        );
  const gate = injector === undefined ? undefined : () => injector.gate();

  const resources = new ResourceMeter(server, () => faultTarget?.server.pid);
  await resources.begin();
  const status = new StatusLine(recorder, process.stderr, options.status ?? false);
  status.start();
  const groups: GroupResult[] = [];
  const stuckPhases: RunObservation['stuckPhases'] = [];
  injector?.start();
  try {
    for (const [i, { phase, groups: phaseGroups }] of plan.entries()) {
      status.phase = phase.name;
      const outcome = await runPhase(phase, phaseGroups, recorder, clients, deadlineMs, gate);
      groups.push(...outcome.groups);
      if (i === 0 && plan.length > 1) await resources.baseline();
      if (outcome.stuck !== undefined) {
        stuckPhases.push(outcome.stuck);
        const skipped = plan.slice(i + 1).map((p) => p.phase.name);
        if (skipped.length > 0) notes.push(`phases not run after the stuck phase: ${skipped.join(', ')}`);
        break;
      }
    }
  } finally {
    // The server is up again and every write a kill left open is resent before the final checks.
    await injector?.stop();
    status.stop();
    await recorder.close();
  }
  const serviceMsOfWrites = recorder.records
    .filter((r) => WRITE_OPS.has(r.op) && r.completeNs >= 0n)
    .reduce((sum, r) => sum + Number(r.completeNs - r.invokeNs) / 1e6, 0);
  const resourceReport = await resources.end(serviceMsOfWrites);

  // Pending calls never answered are indeterminate: mark them so the checkers treat them as such.
  for (const r of recorder.inFlight.values()) {
    r.type = 'info';
    r.code = 'PENDING';
    r.completeNs = recorder.nowNs();
  }
  if (recorder.truncated)
    notes.push(`history capped at ${HARNESS_LIMITS.maxRecordedOps} calls: checks see a prefix`);

  const finalSnapshot = await snapshotOrUndefined(clients[0]!, deadlineMs);
  if (finalSnapshot === undefined)
    notes.push('final snapshot unavailable: balance checks have no final state');
  const wantsLog = scenario.expect.invariants.some(
    (n) => n === 'audit-log' || n === 'idempotency' || n === 'durability',
  );
  const logEntries = wantsLog
    ? await fetchLogEntries(clients, recorder.records, deadlineMs, notes)
    : new Map();

  const observation: RunObservation = {
    initialBalances,
    initialVersions: initial === undefined ? undefined : initialVersions,
    initialLogPosition,
    kills: injector?.killTimesNs.map((atNs) => ({ atNs })),
    serverFailures:
      injector === undefined
        ? undefined
        : [...injector.restartFailures, ...faultTarget!.server.unexpectedExits],
    finalSnapshot,
    logEntries,
    records: recorder.records,
    stuckPhases,
  };
  const finalBalances =
    scenario.expect.final_balances === undefined
      ? undefined
      : Object.fromEntries(
          Object.entries(scenario.expect.final_balances).map(([id, b]) => [ids.account(id), b]),
        );
  const verdicts: InvariantVerdict[] = checkInvariants(observation, {
    invariants: scenario.expect.invariants,
    finalBalances,
    allowedErrorCodes: scenario.expect.allowed_errors,
    transferOnlyPhases: scenario.phases.filter(isTransferOnly).map((p) => p.name),
  });

  const ops = summariseOps(recorder);
  const faults = injector?.report(recorder.records.filter((r) => r.type === 'info').length);
  const source = metricSource(recorder, resourceReport, faults);
  const thresholds = scenario.expect.thresholds.map((text) =>
    evaluateThreshold(parseThreshold(text) as Threshold, source),
  );
  if (faults !== undefined && faultSpec?.count !== undefined && faults.kills < faultSpec.count) {
    notes.push(`only ${faults.kills} of ${faultSpec.count} kills fit in the phases (lengthen them)`);
  }
  return {
    kind: 'load',
    durationMs: performance.now() - t0,
    faults,
    ops,
    groups,
    verdicts,
    thresholds,
    resources: resourceReport,
    stuckPhases: stuckPhases.map(describeStuck),
    notes,
    exitCode: runExitCode(verdicts, thresholds),
  };
}

function describeStuck(s: RunObservation['stuckPhases'][number]): StuckPhaseReport {
  return {
    phase: s.phase,
    timeoutMs: s.timeoutMs,
    pending: s.pending.map(
      (r) =>
        `#${r.index} caller ${r.caller} [${r.group}] ${r.op} ${JSON.stringify(r.args, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
    ),
  };
}

/** A phase whose every group can only move money (or read): the total must be constant in its snapshots. */
function isTransferOnly(phase: Scenario['phases'][number]): boolean {
  const moving = new Set(['transfer', 'get', 'snapshot', 'query']);
  return phase.groups.every((g) =>
    g.script !== undefined
      ? moving.has(g.script.op)
      : Object.entries(g.mix ?? {}).every(([op, w]) => (w ?? 0) === 0 || moving.has(op)),
  );
}

function checkPool(group: string, mix: Partial<Record<string, number>>, pool: string[]): string[] {
  if (pool.length === 0)
    throw new RunSetupError(`group ${group}: no accounts to pick from (set "accounts" or "pool")`);
  if ((mix.transfer ?? 0) > 0 && pool.length < 2) {
    throw new RunSetupError(`group ${group}: transfers need at least 2 accounts in the pool`);
  }
  return pool;
}

function expandAccounts(scenario: Scenario, ids: RunIds): { id: string; balance: bigint }[] {
  const accounts: { id: string; balance: bigint }[] = [];
  for (const spec of scenario.accounts) {
    if (spec.id !== undefined) accounts.push({ id: ids.account(spec.id), balance: spec.balance });
    else
      for (let i = 0; i < spec.count!; i++)
        accounts.push({ id: ids.account(`${spec.prefix}${i}`), balance: spec.balance });
  }
  if (accounts.length > HARNESS_LIMITS.maxSetupAccounts) {
    throw new RunSetupError(
      `${accounts.length} setup accounts exceed the limit of ${HARNESS_LIMITS.maxSetupAccounts}`,
    );
  }
  return accounts;
}

async function createAccounts(
  clients: LedgerClient[],
  accounts: { id: string; balance: bigint }[],
  deadlineMs: number,
): Promise<void> {
  let next = 0;
  const workers = Array.from(
    { length: Math.min(HARNESS_LIMITS.setupConcurrency, accounts.length) },
    async (_, w) => {
      const client = clients[w % clients.length]!;
      while (next < accounts.length) {
        const account = accounts[next++]!;
        try {
          await client.createAccount(account.id, account.balance, '', { deadlineMs });
        } catch (err) {
          const why = err instanceof LedgerCallError ? `${err.codeName} ${err.details}` : String(err);
          throw new RunSetupError(`setup: creating account ${account.id} failed: ${why}`);
        }
      }
    },
  );
  await Promise.all(workers);
}

async function snapshotOrUndefined(
  client: LedgerClient,
  deadlineMs: number,
  includeAccounts = true,
): Promise<SnapshotView | undefined> {
  try {
    const { value } = await client.getSnapshot(includeAccounts, { deadlineMs });
    return value;
  } catch {
    return undefined;
  }
}

/** The log entry of every write transaction id in the history (bounded concurrency). */
async function fetchLogEntries(
  clients: LedgerClient[],
  records: readonly OpRecord[],
  deadlineMs: number,
  notes: string[],
): Promise<Map<string, LogEntryView | 'not-found'>> {
  const txids = new Set<string>();
  for (const r of records) {
    if (!WRITE_OPS.has(r.op)) continue;
    const txid = r.resultTransactionId ?? r.args.transactionId;
    if (txid !== undefined) txids.add(txid);
  }
  const pending = [...txids];
  const entries = new Map<string, LogEntryView | 'not-found'>();
  let unknown = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(HARNESS_LIMITS.logFetchConcurrency, pending.length) }, async (_, w) => {
      const client = clients[w % clients.length]!;
      while (next < pending.length) {
        const txid = pending[next++]!;
        try {
          entries.set(txid, (await client.getTransaction(txid, { deadlineMs })).value);
        } catch (err) {
          if (err instanceof LedgerCallError && err.codeName === 'NOT_FOUND') entries.set(txid, 'not-found');
          else unknown++;
        }
      }
    }),
  );
  if (unknown > 0)
    notes.push(`${unknown} log entries could not be fetched (left out of the audit-log check)`);
  return entries;
}

const latencySummary = (h: import('hdr-histogram-js').Histogram): LatencySummary => ({
  p50: h.getValueAtPercentile(50),
  p90: h.getValueAtPercentile(90),
  p99: h.getValueAtPercentile(99),
  p999: h.getValueAtPercentile(99.9),
  max: h.maxValue,
  mean: h.mean,
});

const OP_ORDER = ['create', 'get', 'update', 'transfer', 'snapshot', 'query', '*'];

function summariseOps(recorder: RunRecorder): OpSummary[] {
  return [...recorder.stats.entries()]
    .sort(([a], [b]) => OP_ORDER.indexOf(a) - OP_ORDER.indexOf(b))
    .map(([op, s]) => ({
      op,
      count: s.count,
      ok: s.ok,
      errorsByCode: Object.fromEntries(s.errorsByCode),
      replayed: s.replayed,
      throughputPerS: s.throughputPerS,
      latencyUs: latencySummary(s.latencyUs),
      serviceUs: latencySummary(s.serviceUs),
      offered: s.offered,
      dropped: s.dropped,
      warmup: s.warmup,
    }));
}

function metricSource(
  recorder: RunRecorder,
  resources: ResourceReport,
  faults: FaultReport | undefined,
): MetricSource {
  const inProcessOnly = { unavailable: 'measured for the in-process server only' };
  return (t) => {
    if (t.op !== undefined) {
      const stats = recorder.stats.get(t.op);
      if (stats === undefined || stats.count === 0) {
        if (t.metric === 'dropped') return 0;
        return { unavailable: `no measured ${t.op === '*' ? '' : `${t.op} `}calls` };
      }
      if (t.percentile !== undefined) return stats.latencyUs.getValueAtPercentile(t.percentile);
      switch (t.metric) {
        case 'max':
          return stats.latencyUs.maxValue;
        case 'mean':
          return stats.latencyUs.mean;
        case 'error_rate':
          return stats.errors / stats.count;
        case 'rate':
          return stats.throughputPerS;
        case 'dropped':
          return stats.dropped;
      }
      return { unavailable: `unknown metric ${t.metric}` };
    }
    if (t.metric === 'kills' || t.metric === 'max_down') {
      if (faults === undefined) return { unavailable: 'no faults injected' };
      if (t.metric === 'kills') return faults.kills;
      // Thresholds compare times in microseconds.
      return Math.max(0, ...faults.restarts.map((x) => x.downMs)) * 1_000;
    }
    const r = resources;
    const growth = (before: number | undefined, after: number | undefined) =>
      before === undefined || after === undefined || before === 0 ? inProcessOnly : (after - before) / before;
    switch (t.metric) {
      case 'max_rss':
        // A spawned server is measured on its own; in-process, client and server share one process.
        if (r.serverRssMaxBytes !== undefined) return r.serverRssMaxBytes;
        return r.server === 'in-process'
          ? r.rssMaxBytes
          : { unavailable: 'server RSS is not observable on a remote target' };
      case 'rss_growth':
        return r.server === 'in-process' ? growth(r.rssBaselineBytes, r.rssAfterBytes) : inProcessOnly;
      case 'server_heap_growth':
        return growth(r.serverHeapBaselineBytes, r.serverHeapAfterBytes);
      case 'server_rss_growth':
      case 'server_anon_rss_growth': {
        const m = r.serverMemory;
        if (m === undefined) return { unavailable: 'server RSS growth needs a spawned server' };
        return t.metric === 'server_rss_growth'
          ? growth(m.baseline.rssBytes, m.after.rssBytes)
          : growth(m.baseline.anonBytes, m.after.anonBytes);
      }
      case 'server_elu':
        return r.serverEventLoopUtilization ?? inProcessOnly;
      case 'txid_sweep_ratio': {
        if (r.txidSwept === undefined || r.txidsHeld === undefined) return inProcessOnly;
        const seen = r.txidSwept + r.txidsHeld;
        return seen === 0 ? 0 : r.txidSwept / seen;
      }
    }
    return { unavailable: `unknown metric ${t.metric}` };
  };
}

/** CPU, event-loop, memory and lock figures before, during and after the phases. */
class ResourceMeter {
  private cpu0 = process.cpuUsage();
  private elu0 = performance.eventLoopUtilization();
  private mem0 = process.memoryUsage();
  private wall0 = performance.now();
  private mainCpu0: number | undefined;
  private server0: ServerResourceSample | undefined;
  private serverBaseline: ServerResourceSample | undefined;
  private rssBaseline = 0;
  private rssMax = 0;
  private serverRssMax: number | undefined;
  /** A spawned server's memory at the start, after the first phase and at the end. */
  private spawned0: ProcessMemory | undefined;
  private spawnedBaseline: ProcessMemory | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly server: InProcessServer | undefined,
    /** A spawned server's current pid: its RSS is sampled apart from this process's. */
    private readonly spawnedPid: () => number | undefined,
  ) {}

  private sampleSpawnedRss(): ProcessMemory | undefined {
    const pid = this.spawnedPid();
    const memory = pid === undefined ? undefined : processMemory(pid);
    if (memory !== undefined) this.serverRssMax = Math.max(this.serverRssMax ?? 0, memory.rssBytes);
    return memory;
  }

  async begin(): Promise<void> {
    this.server0 = await this.server?.sample({ gc: true });
    this.cpu0 = process.cpuUsage();
    this.elu0 = performance.eventLoopUtilization();
    this.mem0 = process.memoryUsage();
    this.wall0 = performance.now();
    this.mainCpu0 = threadCpuMs();
    this.rssBaseline = this.mem0.rss;
    this.serverBaseline = this.server0;
    this.rssMax = this.mem0.rss;
    this.spawned0 = this.sampleSpawnedRss();
    this.spawnedBaseline = this.spawned0;
    this.timer = setInterval(() => {
      this.rssMax = Math.max(this.rssMax, process.memoryUsage.rss());
      this.sampleSpawnedRss();
    }, HARNESS_LIMITS.statusIntervalMs);
    this.timer.unref();
  }

  /** Memory after the first phase (a warm-up phase): the baseline for growth thresholds. */
  async baseline(): Promise<void> {
    this.serverBaseline = (await this.server?.sample({ gc: true })) ?? this.serverBaseline;
    this.rssBaseline = process.memoryUsage.rss();
    this.spawnedBaseline = this.sampleSpawnedRss() ?? this.spawnedBaseline;
  }

  async end(serviceMsOfWrites: number): Promise<ResourceReport> {
    clearInterval(this.timer);
    const wallMs = performance.now() - this.wall0;
    const mainCpu1 = threadCpuMs();
    const cpu = process.cpuUsage(this.cpu0);
    const elu = performance.eventLoopUtilization(this.elu0);
    const mem = process.memoryUsage();
    this.rssMax = Math.max(this.rssMax, mem.rss);
    const spawned1 = this.sampleSpawnedRss();
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const server1 = await this.server?.sample({ gc: true });
    const report: ResourceReport = {
      server: this.server === undefined ? 'remote' : 'in-process',
      wallMs,
      processCpuCores: cpuMs / wallMs,
      clientEventLoopUtilization: elu.utilization,
      rssBeforeBytes: this.mem0.rss,
      rssAfterBytes: mem.rss,
      rssMaxBytes: this.rssMax,
      rssBaselineBytes: this.rssBaseline,
      ...(this.serverRssMax === undefined ? {} : { serverRssMaxBytes: this.serverRssMax }),
      ...(spawned1 === undefined || this.spawned0 === undefined
        ? {}
        : {
            serverMemory: {
              before: this.spawned0,
              baseline: this.spawnedBaseline ?? this.spawned0,
              after: spawned1,
            },
          }),
      clientHeapBeforeBytes: this.mem0.heapUsed,
      clientHeapAfterBytes: mem.heapUsed,
    };
    if (this.mainCpu0 !== undefined && mainCpu1 !== undefined) {
      report.generatorCpuCores = (mainCpu1 - this.mainCpu0) / wallMs;
    }
    if (server1 !== undefined && this.server0 !== undefined) {
      const serverActiveMs = server1.eventLoopActiveMs - this.server0.eventLoopActiveMs;
      const lockWaitMs = server1.engine.lockWaitMsTotal - this.server0.engine.lockWaitMsTotal;
      Object.assign(report, {
        serverEventLoopUtilization: serverActiveMs / wallMs,
        serverCpuShare: cpuMs > 0 ? Math.min(1, serverActiveMs / cpuMs) : 0,
        serverHeapBeforeBytes: this.server0.heapUsedBytes,
        serverHeapBaselineBytes: this.serverBaseline?.heapUsedBytes,
        serverHeapAfterBytes: server1.heapUsedBytes,
        lockWaitMs,
        lockWaitShare: serviceMsOfWrites > 0 ? lockWaitMs / serviceMsOfWrites : 0,
        txidsHeld: server1.engine.txidsHeld,
        txidSwept: server1.engine.txidSwept,
        txidSweepMaxSliceMs: server1.engine.txidSweepMaxSliceMs,
      } satisfies Partial<ResourceReport>);
      if (server1.threadCpuMs !== undefined && this.server0.threadCpuMs !== undefined) {
        report.serverCpuCores = (server1.threadCpuMs - this.server0.threadCpuMs) / wallMs;
      }
    }
    return report;
  }
}
