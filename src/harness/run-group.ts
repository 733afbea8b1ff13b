import { ArrivalSchedule, type StageCounts, scheduleRate } from './arrival-schedule.js';
import type { BatchCaller, Caller } from './call-op.js';
import {
  type CallSource,
  type PlannedBatchItem,
  type PlannedCall,
  rememberAcknowledged,
} from './call-source.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import { PreciseTimer } from './precise-timer.js';
import type { CallRecorder } from './run-recorder.js';
import type { GroupSpec } from './scenario-schema.js';
import type { SeededRandom } from './seeded-random.js';

export interface GroupContext {
  phase: string;
  spec: GroupSpec;
  source: CallSource;
  recorder: CallRecorder;
  /** One per connection; caller ids are spread over them. */
  callers: readonly Caller[];
  /** ExecuteBatch senders (grpc-js clients), one per connection. */
  batchCallers: readonly BatchCaller[];
  random: SeededRandom;
  /** First caller id of this group (caller ids are unique across the run). */
  callerBase: number;
  deadlineMs: number;
  /** Set when the phase timed out: start no further calls. */
  stop: { stopped: boolean };
  /** Write ids acknowledged in this group (for random queries). */
  acknowledged: string[];
  /** Fault injection: resolves when the server is back up (undefined: it is up, send now). */
  gate?: () => Promise<void> | undefined;
  /** Open loop, generator threads: this thread's sends start this much later (interleaved schedules). */
  startOffsetMs?: number;
  /** Closed loop, generator threads: this thread's first caller within the group (for {caller}). */
  callerOffset?: number;
}

export interface GroupResult {
  name: string;
  phase: string;
  model: 'closed' | 'open';
  elapsedMs: number;
  calls: number;
  /** Open loop only. */
  offeredRatePerS?: number;
  achievedRatePerS?: number;
  dropped?: number;
  /** A rate ramp's stages: offered and dropped sends each (run-scenario adds each stage's latency). */
  stages?: StageReport[];
  /**
   * A ramp: where each schedule began (one per generator thread, told apart by their caller ids),
   * in seconds since the run started, so calls can be binned into stages after the run.
   */
  scheduleStarts?: ScheduleStart[];
}

export interface ScheduleStart {
  callerBase: number;
  startedAtS: number;
  offsetMs: number;
}

export interface StageReport extends StageCounts {
  /** Per op, the calls due in this stage that were sent (warm-up excluded from latency). */
  ops?: { op: string; count: number; errors: number; p50Us: number; p99Us: number }[];
}

/** The number of caller ids a group needs (closed: its callers; open: its in-flight slots). */
export function callerSlots(spec: GroupSpec): number {
  return spec.load.model === 'closed'
    ? spec.load.callers
    : (spec.load.max_in_flight ?? HARNESS_LIMITS.defaultOpenLoopMaxInFlight);
}

export async function runGroup(ctx: GroupContext): Promise<GroupResult> {
  return ctx.spec.load.model === 'closed' ? runClosed(ctx) : runOpen(ctx);
}

function isWarmup(spec: GroupSpec, index: number, elapsedMs: number): boolean {
  if (spec.warmup_ops !== undefined) return index < spec.warmup_ops;
  if (spec.warmup !== undefined) return elapsedMs < spec.warmup;
  return false;
}

async function issue(
  ctx: GroupContext,
  call: PlannedCall,
  caller: number,
  warmup: boolean,
  scheduledNs?: bigint,
): Promise<void> {
  // While a killed server restarts, calls wait instead of piling up failures against a dead port.
  const down = ctx.gate?.();
  if (down !== undefined) await down;
  if (call.op === 'batch') return issueBatch(ctx, call.items, caller, warmup, scheduledNs);
  const record = ctx.recorder.begin({
    phase: ctx.phase,
    group: ctx.spec.name,
    caller,
    op: call.op,
    args: call.args,
    scheduledNs,
    warmup,
  });
  const send = ctx.callers[caller % ctx.callers.length]!;
  const outcome = await send(call.op, call.args, ctx.spec.deadline ?? ctx.deadlineMs);
  ctx.recorder.finish(record, outcome);
  if (outcome.type === 'ok' && call.args.transactionId !== undefined && call.op !== 'query') {
    rememberAcknowledged(ctx.acknowledged, call.args.transactionId, record.index);
  }
}

/** One ExecuteBatch: each item is recorded as its own write, in batch order, by the same caller. */
async function issueBatch(
  ctx: GroupContext,
  items: readonly PlannedBatchItem[],
  caller: number,
  warmup: boolean,
  scheduledNs: bigint | undefined,
): Promise<void> {
  const records = items.map((item) =>
    ctx.recorder.begin({
      phase: ctx.phase,
      group: ctx.spec.name,
      caller,
      op: item.op,
      args: item.args,
      scheduledNs,
      warmup,
    }),
  );
  const send = ctx.batchCallers[caller % ctx.batchCallers.length]!;
  const outcome = await send(items, ctx.spec.deadline ?? ctx.deadlineMs);
  ctx.recorder.finishBatch(records, outcome.call, outcome.items);
  for (const [i, item] of items.entries()) {
    const txid = item.args.transactionId;
    if (outcome.items[i]!.type === 'ok' && txid !== undefined) {
      rememberAcknowledged(ctx.acknowledged, txid, records[i]!.index);
    }
  }
}

/** Closed loop: C callers, each sending its next call as soon as the previous one answered. */
async function runClosed(ctx: GroupContext): Promise<GroupResult> {
  const { spec } = ctx;
  const callers = callerSlots(spec);
  const rounds = spec.rounds ?? 1;
  const start = performance.now();
  let index = 0;
  for (let round = 0; round < rounds && !ctx.stop.stopped; round++) {
    let inRound = 0;
    // One forked stream per caller: the sequence each caller sends does not depend on timing.
    const streams = Array.from({ length: callers }, () => ctx.random.fork());
    await Promise.all(
      streams.map(async (random, c) => {
        const caller = ctx.callerBase + c;
        for (;;) {
          if (ctx.stop.stopped) return;
          if (spec.ops !== undefined && inRound >= spec.ops) return;
          const elapsedMs = performance.now() - start;
          if (spec.duration !== undefined && elapsedMs >= spec.duration) return;
          inRound++;
          const i = index++;
          const call = ctx.source(i, round, c + (ctx.callerOffset ?? 0), random);
          await issue(ctx, call, caller, isWarmup(spec, i, elapsedMs));
        }
      }),
    );
  }
  return {
    name: spec.name,
    phase: ctx.phase,
    model: 'closed',
    elapsedMs: performance.now() - start,
    calls: index,
  };
}

/**
 * Open loop: sends leave on the arrival schedule whether or not earlier ones answered. A send
 * that is due while `max_in_flight` calls are outstanding is dropped and counted (the offered
 * rate then exceeds the achieved one); the generator never queues, so it never lies about latency.
 */
async function runOpen(ctx: GroupContext): Promise<GroupResult> {
  const { spec } = ctx;
  if (spec.load.model !== 'open') throw new Error('unreachable');
  const maxInFlight = callerSlots(spec);
  const schedule = new ArrivalSchedule(scheduleRate(spec.load), spec.load.arrivals, ctx.random.fork());
  const random = ctx.random.fork();
  // Each in-flight slot is one sequential caller, so per-caller checks stay meaningful.
  const freeSlots: number[] = [];
  let slotsUsed = 0;
  const pending = new Set<Promise<void>>();
  let offered = 0;
  let dropped = 0;
  let sent = 0;
  const start = performance.now();
  const startNs = ctx.recorder.nowNs();
  const offsetMs = ctx.startOffsetMs ?? 0;
  let dueMs = schedule.next() + offsetMs;

  const done = (): boolean =>
    ctx.stop.stopped ||
    (spec.ops !== undefined && offered >= spec.ops) ||
    (spec.duration !== undefined && dueMs >= spec.duration);

  while (!done()) {
    const nowMs = performance.now() - start;
    while (!done() && dueMs <= nowMs) {
      const index = offered++;
      const warmup = isWarmup(spec, index, dueMs);
      const call = ctx.source(index, 0, 0, random);
      ctx.recorder.offered(call.op, warmup);
      let slot = freeSlots.pop();
      if (slot === undefined && slotsUsed < maxInFlight) slot = slotsUsed++;
      if (slot === undefined) {
        dropped++;
        schedule.dropped();
        ctx.recorder.dropped(call.op, warmup);
      } else {
        const taken = slot;
        sent++;
        const scheduledNs = startNs + BigInt(Math.round(dueMs * 1e6));
        const p: Promise<void> = issue(ctx, call, ctx.callerBase + taken, warmup, scheduledNs).finally(() => {
          pending.delete(p);
          freeSlots.push(taken);
        });
        pending.add(p);
      }
      dueMs = schedule.next() + offsetMs;
    }
    if (done()) break;
    await waitUntil(start + dueMs);
  }
  const sendingMs = Math.max(performance.now() - start, 1);
  while (pending.size > 0 && !ctx.stop.stopped) await Promise.race(pending);
  const elapsedMs = performance.now() - start;
  return {
    name: spec.name,
    phase: ctx.phase,
    model: 'open',
    elapsedMs,
    calls: sent,
    offeredRatePerS: (offered / sendingMs) * 1000,
    achievedRatePerS: (sent / elapsedMs) * 1000,
    dropped,
    ...(spec.load.stages === undefined
      ? {}
      : {
          stages: schedule.stageCounts(),
          scheduleStarts: [{ callerBase: ctx.callerBase, startedAtS: Number(startNs) / 1e9, offsetMs }],
        }),
  };
}

let timer: PreciseTimer | undefined;

/**
 * Waits until `atMs` (performance.now() time). Not setTimeout: libuv timers have 1 ms resolution
 * and fire up to a millisecond late, and open-loop latency counts from the scheduled time, so
 * every call measured that lateness as latency (at 500/s against a null responder: p50 0.95 ms,
 * 0.6 ms of it the timer; BENCHMARKS.md). A futex wait on a timer thread wakes this loop within
 * tens of microseconds and burns no core while it waits. Sends that fall due together still
 * leave together, each timed from its own scheduled time.
 */
function waitUntil(atMs: number): Promise<void> {
  timer ??= new PreciseTimer();
  return timer.sleepUntil(performance.timeOrigin + atMs);
}
