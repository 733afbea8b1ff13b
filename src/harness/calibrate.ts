import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClientSecurity } from '../client/client-security.js';
import { scriptedSource } from './call-source.js';
import { h2CallOp } from './h2-call-op.js';
import { H2Channel } from './h2-channel.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import { runGroup } from './run-group.js';
import { RunIds } from './run-ids.js';
import { latencySummary } from './run-metrics.js';
import { RunRecorder } from './run-recorder.js';
import type { LatencySummary } from './run-result.js';
import { RunSetupError } from './run-setup-error.js';
import type { GroupSpec, Scenario } from './scenario-schema.js';
import { SeededRandom } from './seeded-random.js';
import type { Threshold } from './thresholds.js';
import { connectFailure } from './tls-diagnosis.js';

/** The instrument's own floor: its latency against a responder that does no work, at a given rate. */
export interface InstrumentFloor {
  ratePerS: number;
  /** Why this rate (the run's open-loop rate, or the default for a closed-loop run). */
  rateSource: 'run' | 'default' | 'flag';
  calls: number;
  durationMs: number;
  /** From the scheduled send time, as the run's open-loop latency. */
  latencyUs: LatencySummary;
  /** From the actual send: the part of the floor that is not the generator's own lateness. */
  serviceUs: LatencySummary;
  /** How late each send left after its scheduled time (the generator's timer and loop). */
  sendLatenessUs?: LatencySummary;
  /**
   * Measured continuously while the load ran: a probe sending `ratePerS` calls/s to another null
   * responder through the generator's own event loop (absent for `ledgerctl calibrate`).
   */
  during?: { ratePerS: number; calls: number; latencyUs: LatencySummary };
}

export interface CalibrateOptions {
  ratePerS: number;
  rateSource?: InstrumentFloor['rateSource'];
  durationMs?: number;
  connections?: number;
  /** Measure against this responder (host:port) instead of starting one on a thread. */
  target?: string;
  /** TLS (and mTLS) and a bearer token for `target`, as `stress --target` takes them. */
  security?: ClientSecurity;
}

function responderScript(): string {
  const beside = fileURLToPath(new URL('./null-responder-process.js', import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL('../../dist/src/harness/null-responder-process.js', import.meta.url));
}

/**
 * A short open-loop run of the real load engine (same caller, recorder and histograms as a
 * stress run) of GetBalance calls against the null responder in its own process.
 */
/**
 * The null responder in a child process, not a worker thread: on a busy machine a server thread
 * inside the generator's process measured 4-5x worse than one in its own process (BENCHMARKS.md).
 */
export async function startResponderProcess(): Promise<{ target: string; stop(): Promise<void> }> {
  const child = fork(responderScript(), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.connected) child.disconnect();
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    const target = await new Promise<string>((resolve, reject) => {
      child.once('message', (m: { target: string }) => resolve(m.target));
      child.once('error', reject);
      child.once('exit', () => reject(new Error('null responder exited before it was ready')));
    });
    return { target, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function calibrate(options: CalibrateOptions): Promise<InstrumentFloor> {
  const durationMs = options.durationMs ?? HARNESS_LIMITS.calibrationMs;
  const responder = options.target === undefined ? await startResponderProcess() : undefined;
  const channels: H2Channel[] = [];
  try {
    const target = responder?.target ?? options.target!;
    for (let i = 0; i < (options.connections ?? HARNESS_LIMITS.defaultConnectionsPerTarget); i++) {
      const security = responder === undefined ? options.security : undefined;
      const ch = new H2Channel(`${security?.tls === undefined ? 'http' : 'https'}://${target}`, {
        maxResponseBytes: 1 << 20,
        deadlineTickMs: HARNESS_LIMITS.deadlineTickMs,
        tls: security?.tls,
        token: security?.token,
      });
      channels.push(ch);
      try {
        await ch.connect(HARNESS_LIMITS.targetConnectTimeoutMs);
      } catch (err) {
        // The channel says only "connection closed"; a TLS mismatch is the user's to fix.
        throw await connectFailure(err, responder === undefined ? [target] : [], security);
      }
    }
    const spec = {
      name: 'calibrate',
      script: { op: 'get', account: 's-123' },
      load: { model: 'open', rate_per_s: options.ratePerS, arrivals: 'uniform' },
      duration: HARNESS_LIMITS.calibrationWarmupMs + durationMs,
      warmup: HARNESS_LIMITS.calibrationWarmupMs,
    } as GroupSpec;
    const recorder = new RunRecorder(undefined, { keepHistory: false });
    await runGroup({
      phase: 'calibrate',
      spec,
      source: scriptedSource(spec.name, spec.script!, new RunIds('')),
      recorder,
      callers: channels.map((ch) => (op, args, deadlineMs) => h2CallOp(ch, op, args, deadlineMs)),
      // A scripted get: never a batch.
      batchCallers: [],
      random: new SeededRandom(1),
      callerBase: 0,
      deadlineMs: HARNESS_LIMITS.defaultCallDeadlineMs,
      stop: { stopped: false },
      acknowledged: [],
    });
    const stats = recorder.statsFor('get');
    // The probe account need not exist (NOT_FOUND is a full answer); a refusal is not a floor.
    const refused = [...stats.errorsByCode].filter(([code]) => code !== 'NOT_FOUND');
    if (responder === undefined && refused.length > 0) {
      // Every code, most frequent first: a server that throttles failed credentials answers some
      // calls UNAUTHENTICATED and the rest RESOURCE_EXHAUSTED, in shares that depend on timing.
      const codes = refused
        .sort((a, b) => b[1] - a[1])
        .map(([code, n]) => `${n} ${code}`)
        .join(', ');
      const n = refused.reduce((sum, [, count]) => sum + count, 0);
      throw new RunSetupError(
        `${n} of ${stats.count} calls to ${options.target} were refused (${codes}): no floor measured (credentials? --token-file, --tls-cert)`,
      );
    }
    return {
      ratePerS: options.ratePerS,
      rateSource: options.rateSource ?? 'flag',
      calls: stats.count,
      durationMs,
      latencyUs: latencySummary(stats.latencyUs),
      serviceUs: latencySummary(stats.serviceUs),
      sendLatenessUs: latencySummary(stats.sendLateUs),
    };
  } finally {
    for (const ch of channels) ch.close();
    await responder?.stop();
  }
}

/** The rate a run's floor is measured at: its busiest phase's summed open-loop rate. */
export function floorRateOf(scenario: Scenario): { ratePerS: number; rateSource: 'run' | 'default' } {
  let busiest = 0;
  for (const phase of scenario.phases) {
    let sum = 0;
    for (const g of phase.groups) if (g.load.model === 'open') sum += g.load.rate_per_s;
    busiest = Math.max(busiest, sum);
  }
  return busiest > 0
    ? { ratePerS: busiest, rateSource: 'run' }
    : { ratePerS: HARNESS_LIMITS.defaultCalibrationRatePerS, rateSource: 'default' };
}

/**
 * The floor latency limits are judged against. The continuous probe, when it made enough calls,
 * alone: it measured the instrument in the same seconds as the load, through the same event loop,
 * so a burst on the machine during the 2 s calibration before the load (or a quiet moment then)
 * does not decide the verdict of a load it did not overlap. Otherwise the worse of the two.
 */
export function judgedFloor(floor: InstrumentFloor): { latencyUs: LatencySummary; what: string } {
  const d = floor.during;
  if (d !== undefined && d.calls >= HARNESS_LIMITS.floorProbeMinCalls) {
    return { latencyUs: d.latencyUs, what: `during the load (${d.ratePerS}/s probe, ${d.calls} calls)` };
  }
  return {
    latencyUs: worse(floor.latencyUs, d?.latencyUs),
    what: d === undefined ? `at ${floor.ratePerS}/s` : `at ${floor.ratePerS}/s (before and during the load)`,
  };
}

/** The floor a latency threshold is judged against: the judged floor's value at the same percentile. */
export function floorFor(
  threshold: Threshold,
  floor: InstrumentFloor,
): { us: number; factor: number; what: string } | undefined {
  if (threshold.kind !== 'time' || threshold.op === undefined) return undefined;
  const { latencyUs: l, what: at } = judgedFloor(floor);
  const factor = HARNESS_LIMITS.floorJudgeFactor;
  if (threshold.metric === 'max') return { us: l.max, factor, what: `max ${at}` };
  if (threshold.metric === 'mean') return { us: l.mean, factor, what: `mean ${at}` };
  const p = threshold.percentile;
  if (p === undefined) return undefined;
  if (p <= 50) return { us: l.p50, factor, what: `p50 ${at}` };
  if (p <= 90) return { us: l.p90, factor, what: `p90 ${at}` };
  if (p <= 99) return { us: l.p99, factor, what: `p99 ${at}` };
  return { us: l.p999, factor, what: `p99.9 ${at}` };
}

const floors = new Map<string, Promise<InstrumentFloor>>();

/**
 * The floor for a run: measured once per rate and connection count in this process (a gate runs
 * many scenarios at the same default rate; each would otherwise pay the calibration again).
 */
export function runFloor(scenario: Scenario, connections: number): Promise<InstrumentFloor> {
  const rate = floorRateOf(scenario);
  const key = `${rate.ratePerS}/${connections}`;
  let floor = floors.get(key);
  if (floor === undefined) {
    floor = calibrate({ ...rate, connections });
    floors.set(key, floor);
    floor.catch(() => floors.delete(key));
  }
  return floor;
}

/** The larger value at each point: a floor is as high as the worst time it was measured. */
function worse(a: LatencySummary, b: LatencySummary | undefined): LatencySummary {
  if (b === undefined || b.p50 === 0) return a;
  return {
    p50: Math.max(a.p50, b.p50),
    p90: Math.max(a.p90, b.p90),
    p99: Math.max(a.p99, b.p99),
    p999: Math.max(a.p999, b.p999),
    max: Math.max(a.max, b.max),
    mean: Math.max(a.mean, b.mean),
  };
}

/**
 * The floor measured continuously: while the load runs, a few calls a second go through the same
 * event loop to a null responder in its own process. Whatever they see beyond the responder's
 * nothing is the instrument (its loop, its client stack, the machine's scheduling) at that time.
 */
export class FloorProbe {
  private readonly stop = { stopped: false };
  private running: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly ratePerS: number,
    private readonly responder: { stop(): Promise<void> },
    private readonly channel: H2Channel,
    private readonly recorder: RunRecorder,
  ) {}

  static async start(ratePerS: number): Promise<FloorProbe> {
    const responder = await startResponderProcess();
    const channel = new H2Channel(`http://${responder.target}`, {
      maxResponseBytes: 1 << 20,
      deadlineTickMs: HARNESS_LIMITS.deadlineTickMs,
    });
    try {
      await channel.connect(HARNESS_LIMITS.targetConnectTimeoutMs);
    } catch (err) {
      channel.close();
      await responder.stop();
      throw err;
    }
    const spec = {
      name: 'floor-probe',
      script: { op: 'get', account: 's-123' },
      load: { model: 'open', rate_per_s: ratePerS, arrivals: 'uniform' },
      duration: HARNESS_LIMITS.floorProbeMaxMs,
      warmup: HARNESS_LIMITS.calibrationWarmupMs,
    } as GroupSpec;
    const recorder = new RunRecorder(undefined, { keepHistory: false });
    const probe = new FloorProbe(ratePerS, responder, channel, recorder);
    probe.running = runGroup({
      phase: 'floor-probe',
      spec,
      source: scriptedSource(spec.name, spec.script!, new RunIds('')),
      recorder,
      callers: [(op, args, deadlineMs) => h2CallOp(channel, op, args, deadlineMs)],
      batchCallers: [],
      random: new SeededRandom(2),
      callerBase: 0,
      deadlineMs: HARNESS_LIMITS.defaultCallDeadlineMs,
      stop: probe.stop,
      acknowledged: [],
    });
    return probe;
  }

  async finish(): Promise<NonNullable<InstrumentFloor['during']>> {
    this.stop.stopped = true;
    await this.running;
    this.channel.close();
    await this.responder.stop();
    const stats = this.recorder.statsFor('get');
    return { ratePerS: this.ratePerS, calls: stats.count, latencyUs: latencySummary(stats.latencyUs) };
  }
}
