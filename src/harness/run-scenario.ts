import { randomBytes, randomInt } from 'node:crypto';
import { FloorProbe, floorFor, runFloor } from './calibrate.js';
import { ClientPool } from './client-pool.js';
import { CommandFaultTarget, type FaultTarget } from './command-fault-target.js';
import { runConformanceKit } from './conformance-entry.js';
import { FaultInjector } from './fault-injector.js';
import { generatorThreadsFor } from './generator-threads.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import { IntervalSampler } from './interval-series.js';
import { runLoad } from './load-engine.js';
import { planLoad } from './load-plan.js';
import { ResourceMeter } from './resource-meter.js';
import { checkRun, WRITE_OPS } from './run-checks.js';
import type { RunContext, RunOptions } from './run-context.js';
import { RunIds } from './run-ids.js';
import { metricSource, summariseOps } from './run-metrics.js';
import { RunRecorder } from './run-recorder.js';
import type { RunResult, StuckPhaseReport } from './run-result.js';
import { setUpAccounts } from './run-setup.js';
import { RunSetupError } from './run-setup-error.js';
import { runVerdict } from './run-verdict.js';
import type { FaultSpec, Scenario } from './scenario-schema.js';
import { SeededRandom } from './seeded-random.js';
import { acquireServer } from './server-source.js';
import { addStageFigures } from './stage-report.js';
import { StatusLine } from './status-line.js';
import { evaluateThreshold } from './thresholds.js';

export type { RunOptions } from './run-context.js';
export { RunSetupError } from './run-setup-error.js';

type RunBase = Pick<RunResult, 'scenario' | 'file' | 'seed' | 'startedAt' | 'target'>;

/**
 * One scenario run, start to verdict: where the server comes from (server-source), setup
 * (run-setup), the load (load-plan, load-engine), resources, checks and metrics. The CLI maps
 * the verdict to an exit code.
 */
export async function runScenario(scenario: Scenario, options: RunOptions): Promise<RunResult> {
  const seed = options.seed ?? scenario.seed ?? randomInt(2 ** 31);
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const server = await acquireServer(scenario, options.targets);
  // A server the run started with TLS is reached with the run's own CA (and client certificate).
  if (server.security !== undefined) options = { ...options, security: server.security };
  const pool = new ClientPool(
    server.targets,
    scenario.connections ?? HARNESS_LIMITS.defaultConnectionsPerTarget,
    scenario.generator?.client ?? 'lean',
    options.security,
  );
  let result: RunResult | undefined;
  try {
    await pool.ready();
    const ctx: RunContext = {
      scenario,
      options,
      seed,
      // Remote servers are shared: prefix every id with a per-run nonce (see RunIds).
      ids: new RunIds(server.kind === 'remote' ? `r${randomBytes(4).toString('hex')}-` : ''),
      server,
      pool,
      deadlineMs: scenario.deadline ?? HARNESS_LIMITS.defaultCallDeadlineMs,
      t0,
      notes: [],
    };
    const base: RunBase = {
      scenario: scenario.name,
      file: options.file,
      seed,
      startedAt,
      target: server.label,
    };
    result =
      scenario.kind === 'conformance' ? await runConformance(ctx, base) : await runLoadScenario(ctx, base);
    if (server.dataDir !== undefined && result.verdict !== 'pass') {
      result.notes.push(`data dir kept for inspection: ${server.dataDir}`);
    }
    return result;
  } finally {
    pool.close();
    await server.release(result !== undefined && result.verdict !== 'pass');
  }
}

async function runConformance(ctx: RunContext, base: RunBase): Promise<RunResult> {
  const targets = ctx.server.targets;
  const { verdicts } = await runConformanceKit(targets[0]!, ctx.deadlineMs, ctx.options.security);
  if (targets.length > 1) ctx.notes.push(`conformance ran against ${targets[0]} only`);
  return {
    ...base,
    kind: 'conformance',
    durationMs: performance.now() - ctx.t0,
    ops: [],
    groups: [],
    verdicts,
    thresholds: [],
    resources: undefined,
    stuckPhases: [],
    notes: ctx.notes,
    verdict: runVerdict(verdicts, []),
  };
}

async function runLoadScenario(ctx: RunContext, base: RunBase): Promise<RunResult> {
  const { scenario, notes } = ctx;
  // Before the load, while the server idles: what this instrument measures against no work at all.
  let floor = await runFloor(scenario, ctx.pool.callers.length);
  const initial = await setUpAccounts(ctx);
  const recorder = new RunRecorder(ctx.options.historyFile);
  const random = new SeededRandom(ctx.seed);
  const plan = planLoad(
    ctx,
    initial.accounts.map((a) => a.id),
    random,
  );
  const faultSpec = scenario.faults[0];
  const spawned = ctx.server.spawned;
  const faultTarget = faultTargetFor(faultSpec, ctx);
  const injector =
    faultSpec === undefined || faultTarget === undefined
      ? undefined
      : new FaultInjector({
          spec: faultSpec,
          server: faultTarget,
          clients: ctx.pool.clients,
          // Only the killed instance's connections move; other instances keep theirs.
          reconnect: (target) => ctx.pool.reconnect(target, faultTarget.starts.at(-2)?.target),
          recorder,
          random: random.fork(),
          deadlineMs: ctx.deadlineMs,
          retryCallerBase: plan.callerIdsUsed,
        });

  const { threads, byRate } = generatorThreadsFor(scenario, ctx.options.generatorThreads);
  if (byRate)
    notes.push(
      `the load ran on ${threads} generator threads (open loop at ${HARNESS_LIMITS.threadsFromRatePerS}/s or more: the main thread's heap holds the run's history, and its collections would pause the sends); --generator-threads 1 keeps it on the main thread`,
    );
  // The floor again, continuously: a probe through the same event loop while the load runs.
  const probe = await FloorProbe.start(HARNESS_LIMITS.floorProbeRatePerS).catch((err: Error) => {
    notes.push(`continuous floor probe unavailable: ${err.message}`);
    return undefined;
  });
  const resources = new ResourceMeter(ctx.server.inProcess, () => spawned?.pid);
  await resources.begin();
  const status = new StatusLine(recorder, process.stderr, ctx.options.status ?? false);
  status.start();
  const sampler = new IntervalSampler(recorder.stats, () => recorder.nowNs());
  sampler.start();
  injector?.start();
  let load: Awaited<ReturnType<typeof runLoad>>;
  let intervals: ReturnType<IntervalSampler['stop']>;
  try {
    load = await runLoad(ctx, plan, {
      recorder,
      status,
      gate: injector === undefined ? undefined : () => injector.gate(),
      threads,
      injector,
      afterFirstPhase: () => resources.baseline(),
    });
  } finally {
    const during = await probe?.finish();
    if (during !== undefined && during.calls > 0) floor = { ...floor, during };
    // The server is up again and every write a kill left open is resent before the final checks.
    await injector?.stop();
    status.stop();
    intervals = sampler.stop();
    await recorder.close();
  }
  if (sampler.capped) {
    notes.push(
      `over-time series capped at ${HARNESS_LIMITS.maxIntervalSamples} samples: it covers the start of the run`,
    );
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
    notes.push(
      `history capped at ${HARNESS_LIMITS.maxRecordedOps} calls: checks and per-stage figures see a prefix`,
    );

  addStageFigures(load.groups, recorder.records);
  const verdicts = await checkRun(ctx, initial, recorder, load.stuckPhases, injector);
  const faults = injector?.report(recorder.records.filter((r) => r.type === 'info').length);
  const source = metricSource(recorder, resourceReport, faults);
  const thresholds = scenario.expect.thresholds.map((t) => evaluateThreshold(t, source, floorFor(t, floor)));
  if (faults !== undefined && faultSpec?.count !== undefined && faults.kills < faultSpec.count) {
    notes.push(`only ${faults.kills} of ${faultSpec.count} kills fit in the phases (lengthen them)`);
  }
  return {
    ...base,
    kind: 'load',
    durationMs: performance.now() - ctx.t0,
    floor,
    faults,
    ops: summariseOps(recorder),
    intervals,
    groups: load.groups,
    verdicts,
    thresholds,
    resources: resourceReport,
    stuckPhases: load.stuckPhases.map(describeStuck),
    notes,
    verdict: runVerdict(verdicts, thresholds),
  };
}

function describeStuck(s: {
  phase: string;
  timeoutMs: number;
  pending: { index: number; caller: number; group: string; op: string; args: object }[];
}): StuckPhaseReport {
  return {
    phase: s.phase,
    timeoutMs: s.timeoutMs,
    pending: s.pending.map(
      (r) =>
        `#${r.index} caller ${r.caller} [${r.group}] ${r.op} ${JSON.stringify(r.args, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
    ),
  };
}

/** A kill fault takes down the (first) spawned server; a command fault runs the scenario's commands. */
function faultTargetFor(spec: FaultSpec | undefined, ctx: RunContext): FaultTarget | undefined {
  if (spec === undefined) return undefined;
  if (spec.command === undefined) return ctx.server.spawned;
  if (ctx.server.kind === 'in-process') {
    throw new RunSetupError('a command fault needs --target servers or server: { mode: spawned }');
  }
  return new CommandFaultTarget(spec.command, ctx.server.targets);
}
