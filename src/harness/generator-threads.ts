import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { LIMITS } from '../domain/limits.js';
import type { ClientPool } from './client-pool.js';
import type { FaultInjector } from './fault-injector.js';
import type { FromGenerator, GeneratorJob, ToGenerator } from './generator-protocol.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import { callerSlots, type GroupContext, type GroupResult } from './run-group.js';
import type { RunRecorder } from './run-recorder.js';
import type { GroupSpec, Scenario } from './scenario-schema.js';

/** What a group needs to run on generator threads besides its own context. */
export interface ThreadEnv {
  threads: number;
  pool: ClientPool;
  recorder: RunRecorder;
  idsPrefix: string;
  /** The group's account pool (physical ids). */
  accounts: readonly string[];
  injector?: FaultInjector;
}

function workerUrl(): URL {
  const beside = new URL('./generator-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL('../../dist/src/harness/generator-worker.js', import.meta.url);
}

/** n split into `parts` near-equal integers, the first ones one larger. */
export function splitCount(n: number, parts: number, k: number): number {
  return Math.floor(n / parts) + (k < n % parts ? 1 : 0);
}

/**
 * Thread k's share of a group: 1/threads of its rate, in-flight slots, callers and ops. The
 * arrivals of n independent Poisson streams at rate r/n are one Poisson stream at rate r;
 * uniform streams are offset by k/n of a gap so they interleave into the group's schedule.
 */
export function threadShare(spec: GroupSpec, threads: number, k: number): GroupSpec {
  const share: GroupSpec = { ...spec };
  if (spec.ops !== undefined) share.ops = splitCount(spec.ops, threads, k);
  if (spec.warmup_ops !== undefined) share.warmup_ops = splitCount(spec.warmup_ops, threads, k);
  if (spec.load.model === 'open') {
    const slots = spec.load.max_in_flight ?? HARNESS_LIMITS.defaultOpenLoopMaxInFlight;
    share.load = {
      ...spec.load,
      rate_per_s: spec.load.rate_per_s / threads,
      ...(spec.load.stages === undefined
        ? {}
        : {
            start_rate: (spec.load.start_rate ?? 0) / threads,
            stages: spec.load.stages.map((s) => ({ ...s, target: s.target / threads })),
          }),
      max_in_flight: Math.max(1, splitCount(slots, threads, k)),
    };
  } else {
    share.load = { ...spec.load, callers: splitCount(spec.load.callers, threads, k) };
  }
  return share;
}

let nextWorkerId = 0;

/** A group run by `threads` generator threads; the main thread only absorbs their batches. */
export async function runGroupInThreads(ctx: GroupContext, env: ThreadEnv): Promise<GroupResult> {
  const { spec } = ctx;
  // Closed loop: no more threads than callers.
  const threads = spec.load.model === 'closed' ? Math.min(env.threads, spec.load.callers) : env.threads;
  const workers: Worker[] = [];
  const results: GroupResult[] = [];
  const broadcast = (message: ToGenerator) => {
    for (const w of workers) w.postMessage(message);
  };
  const onGate = (down: boolean) => broadcast({ type: 'gate', down });
  const onReconnect = (target: string, previous: string | undefined) =>
    broadcast({ type: 'retarget', target, previous });
  env.injector?.gateListeners.push(onGate);
  env.pool.reconnectListeners.push(onReconnect);
  const stopWatch = setInterval(() => {
    if (ctx.stop.stopped) broadcast({ type: 'stop' });
  }, HARNESS_LIMITS.generatorBatchMs);
  try {
    let callerBase = ctx.callerBase;
    let callerOffset = 0;
    const gapMs = spec.load.model === 'open' ? 1000 / spec.load.rate_per_s : 0;
    const jobs: GeneratorJob[] = [];
    for (let k = 0; k < threads; k++) {
      const share = threadShare(spec, threads, k);
      jobs.push({
        phase: ctx.phase,
        spec,
        share,
        thread: k,
        threads,
        callerBase,
        callerOffset,
        startOffsetMs: spec.load.model === 'open' && spec.load.arrivals === 'uniform' ? gapMs * k : 0,
        deadlineMs: spec.deadline ?? ctx.deadlineMs,
        targets: [...env.pool.targets],
        gateDown: env.injector?.isDown ?? false,
        connections: env.pool.connections,
        loadClient: env.pool.loadClient,
        idsPrefix: env.idsPrefix,
        pool: env.accounts,
        seed: Math.floor(ctx.random.next() * 2 ** 32),
        t0Ns: env.recorder.t0,
        maxResponseBytes: LIMITS.maxClientResponseBytes,
        security: env.pool.security,
      });
      callerBase += callerSlots(share);
      if (spec.load.model === 'closed')
        callerOffset += share.load.model === 'closed' ? share.load.callers : 0;
    }
    await Promise.all(
      jobs.map(
        (job) =>
          new Promise<void>((resolve, reject) => {
            // Thread-local call ids are unique per worker, and groups of a phase run side by side.
            const workerId = nextWorkerId++;
            const worker = new Worker(workerUrl());
            workers.push(worker);
            worker.on('message', (m: FromGenerator) => {
              if (m.type === 'batch') env.recorder.absorb(workerId, m.batch);
              else if (m.type === 'done') {
                results.push(m.result);
                resolve();
              } else reject(new Error(`generator thread ${job.thread}: ${m.message}`));
            });
            worker.on('error', reject);
            worker.on('exit', () => resolve());
            worker.postMessage({ type: 'run', job } satisfies ToGenerator);
          }),
      ),
    );
  } finally {
    clearInterval(stopWatch);
    env.injector?.gateListeners.splice(env.injector.gateListeners.indexOf(onGate), 1);
    env.pool.reconnectListeners.splice(env.pool.reconnectListeners.indexOf(onReconnect), 1);
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return mergeGroupResults(spec.name, ctx.phase, results);
}

function mergeGroupResults(name: string, phase: string, parts: GroupResult[]): GroupResult {
  const open = parts[0]?.model === 'open';
  const elapsedMs = Math.max(0, ...parts.map((p) => p.elapsedMs));
  const calls = parts.reduce((s, p) => s + p.calls, 0);
  const merged: GroupResult = { name, phase, model: open ? 'open' : 'closed', elapsedMs, calls };
  if (open) {
    merged.offeredRatePerS = parts.reduce((s, p) => s + (p.offeredRatePerS ?? 0), 0);
    merged.achievedRatePerS = parts.reduce((s, p) => s + (p.achievedRatePerS ?? 0), 0);
    merged.dropped = parts.reduce((s, p) => s + (p.dropped ?? 0), 0);
    // A ramp: each thread ran 1/n of it; the group's stage figures are the sums.
    const stages = parts[0]?.stages;
    if (stages !== undefined) {
      merged.scheduleStarts = parts.flatMap((p) => p.scheduleStarts ?? []);
      merged.stages = stages.map((st, i) => ({
        ...st,
        fromPerS: parts.reduce((s, p) => s + (p.stages?.[i]?.fromPerS ?? 0), 0),
        toPerS: parts.reduce((s, p) => s + (p.stages?.[i]?.toPerS ?? 0), 0),
        offered: parts.reduce((s, p) => s + (p.stages?.[i]?.offered ?? 0), 0),
        dropped: parts.reduce((s, p) => s + (p.stages?.[i]?.dropped ?? 0), 0),
      }));
    }
  }
  return merged;
}

/**
 * How many generator threads a run uses: the flag, else the scenario's `generator.threads`, else
 * `generatorThreadsAtRate` when a phase's open-loop groups offer `threadsFromRatePerS` or more
 * together (a ramp counts at its peak: `byRate`, for the report's note), else 1 (the main thread).
 */
export function generatorThreadsFor(
  scenario: Scenario,
  flag: number | undefined,
): { threads: number; byRate: boolean } {
  const chosen = flag ?? scenario.generator?.threads;
  if (chosen !== undefined) return { threads: chosen, byRate: false };
  const peakPerS = Math.max(
    0,
    ...scenario.phases.map((phase) =>
      phase.groups.reduce((sum, g) => sum + (g.load.model === 'open' ? g.load.rate_per_s : 0), 0),
    ),
  );
  return peakPerS >= HARNESS_LIMITS.threadsFromRatePerS
    ? { threads: HARNESS_LIMITS.generatorThreadsAtRate, byRate: true }
    : { threads: 1, byRate: false };
}
