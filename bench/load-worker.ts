import { parentPort, workerData } from 'node:worker_threads';
import { status } from '@grpc/grpc-js';
import { absoluteNowMs, PreciseTimer } from '../src/harness/precise-timer.js';
import { BenchCallError, type BenchClient, createBenchClient } from './bench-client.js';
import { encodeHistogram, type Histogram, newHistogramUs } from './histogram.js';
import {
  benchAccountId,
  type GrpcOp,
  type LoadSpec,
  type OpReport,
  type ParentMessage,
  type WorkerMessage,
} from './load-spec.js';

/**
 * One load-generator thread with its own event loop and grpc-js instance (so its own
 * connections). Several of them run in parallel when one thread cannot keep a server busy.
 */
const spec = workerData as LoadSpec;
const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);

interface OpStats {
  count: number;
  errors: Record<string, number>;
  latency: Histogram;
  service: Histogram;
}

const stats = new Map<GrpcOp, OpStats>();
for (const op of spec.ops) {
  stats.set(op, { count: 0, errors: {}, latency: newHistogramUs(), service: newHistogramUs() });
}
const clients = Array.from({ length: spec.connections }, (_, i) =>
  createBenchClient(spec.client, spec.target, `bench-${spec.workerId}-${i}`, spec.deadlineMs),
);
const pairs = Math.floor(spec.accounts / 2);
let ackedDelta = 0n;
let indeterminate = 0;
let txSeq = 0;

/** Every call of a kind goes through here, so open and closed loop send exactly the same requests. */
async function call(op: GrpcOp, client: BenchClient, slot: number): Promise<void> {
  const pair = slot % pairs;
  switch (op) {
    case 'get':
      await client.getBalance(benchAccountId((slot * 2 + (slot & 1)) % spec.accounts));
      return;
    case 'update': {
      const delta = (txSeq & 1) === 0 ? 5n : -3n;
      await client.updateBalance(benchAccountId(pair * 2), delta, `${spec.runTag}-${txSeq++}`);
      ackedDelta += delta;
      return;
    }
    case 'transfer': {
      const forward = ((txSeq >> 3) & 1) === 0;
      const a = benchAccountId(pair * 2);
      const b = benchAccountId(pair * 2 + 1);
      const amount = BigInt(1 + (txSeq % 7));
      await client.transferFunds(forward ? a : b, forward ? b : a, amount, `${spec.runTag}-${txSeq++}`);
      return;
    }
  }
}

function recordOutcome(op: GrpcOp, err: unknown): void {
  const s = stats.get(op)!;
  const code = err instanceof BenchCallError && err.code !== undefined ? err.message : 'CLIENT_ERROR';
  s.errors[code] = (s.errors[code] ?? 0) + 1;
  // A write whose answer never came may or may not have happened.
  const unknownOutcome =
    !(err instanceof BenchCallError) ||
    err.code === undefined ||
    err.code === status.DEADLINE_EXCEEDED ||
    err.code === status.UNAVAILABLE;
  if (op !== 'get' && unknownOutcome) indeterminate++;
}

async function runClosed(startAtMs: number): Promise<number> {
  const measureFrom = startAtMs + spec.warmupMs;
  const end = measureFrom + spec.durationMs;
  let issued = 0;
  const caller = async (callerId: number): Promise<void> => {
    const client = clients[callerId % clients.length]!;
    const slot = spec.workerId * spec.concurrency + callerId;
    let k = 0;
    while (absoluteNowMs() < end) {
      const op = spec.ops[k++ % spec.ops.length]!;
      const sent = absoluteNowMs();
      issued++;
      try {
        await call(op, client, slot);
      } catch (err) {
        recordOutcome(op, err);
      }
      const done = absoluteNowMs();
      if (done >= measureFrom && done <= end) {
        const s = stats.get(op)!;
        s.count++;
        const us = Math.max(1, Math.round((done - sent) * 1000));
        s.latency.recordValue(us);
        s.service.recordValue(us);
      }
    }
  };
  await Promise.all(Array.from({ length: spec.concurrency }, (_, i) => caller(i)));
  return issued;
}

async function runOpen(startAtMs: number): Promise<{ scheduled: number; sendLag: Histogram }> {
  const timer = new PreciseTimer();
  const sendLag = newHistogramUs();
  const measureFrom = startAtMs + spec.warmupMs;
  const end = measureFrom + spec.durationMs;
  const intervalMs = 1000 / spec.ratePerSec;
  const inFlight = new Set<Promise<void>>();
  let i = 0;
  let sinceYield = 0;
  for (;;) {
    const scheduledMs = startAtMs + i * intervalMs;
    if (scheduledMs >= end) break;
    if (absoluteNowMs() < scheduledMs) {
      await timer.sleepUntil(scheduledMs);
      sinceYield = 0;
    } else if (++sinceYield >= 16) {
      // Behind schedule: the overdue sends go out as a burst (open-loop semantics), but the
      // event loop must still get to flush them and read answers.
      await new Promise((resolve) => setImmediate(resolve));
      sinceYield = 0;
    }
    const op = spec.ops[i % spec.ops.length]!;
    const client = clients[i % clients.length]!;
    const sentMs = absoluteNowMs();
    const measured = scheduledMs >= measureFrom;
    if (measured) sendLag.recordValue(Math.max(1, Math.round((sentMs - scheduledMs) * 1000)));
    const slot = i;
    const p = call(op, client, slot).then(
      () => undefined,
      (err: unknown) => recordOutcome(op, err),
    );
    const tracked = p.then(() => {
      inFlight.delete(tracked);
      if (!measured) return;
      const done = absoluteNowMs();
      const s = stats.get(op)!;
      s.count++;
      // Latency from the scheduled time: a stalled generator or server cannot hide its queueing.
      s.latency.recordValue(Math.max(1, Math.round((done - scheduledMs) * 1000)));
      s.service.recordValue(Math.max(1, Math.round((done - sentMs) * 1000)));
    });
    inFlight.add(tracked);
    i++;
  }
  await Promise.all(inFlight);
  await timer.close();
  return { scheduled: i, sendLag };
}

async function main(): Promise<void> {
  await Promise.all(clients.map((c) => c.waitForReady(10_000)));
  // Warm the connections so the first measured calls do not pay for HTTP/2 setup.
  await Promise.all(clients.map((c) => c.getBalance(benchAccountId(0))));
  post({ type: 'ready' });
  const go = await new Promise<ParentMessage>((resolve) => port.once('message', resolve));
  const wait = go.startAtMs - absoluteNowMs();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  let scheduled: number;
  let sendLag: Histogram | undefined;
  if (spec.mode === 'closed') scheduled = await runClosed(go.startAtMs);
  else ({ scheduled, sendLag } = await runOpen(go.startAtMs));
  const perOp: Partial<Record<GrpcOp, OpReport>> = {};
  for (const [op, s] of stats) {
    perOp[op] = {
      count: s.count,
      errors: s.errors,
      latencyUs: encodeHistogram(s.latency),
      serviceUs: encodeHistogram(s.service),
    };
  }
  for (const c of clients) c.close();
  post({
    type: 'done',
    report: {
      perOp,
      ackedDelta: ackedDelta.toString(),
      indeterminate,
      scheduled,
      ...(sendLag === undefined ? {} : { sendLagUs: encodeHistogram(sendLag) }),
    },
  });
}

main().catch((err: unknown) =>
  post({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
);
