import { parentPort } from 'node:worker_threads';
import { LedgerClient } from '../client/ledger-client.js';
import { type Caller, type CallOutcome, callOp } from './call-op.js';
import { type CallSource, mixSource, scriptedSource } from './call-source.js';
import type { FromGenerator, GeneratorJob, ToGenerator } from './generator-protocol.js';
import { h2CallOp } from './h2-call-op.js';
import { H2Channel } from './h2-channel.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { OpKind, OpRecord } from './history.js';
import { runGroup } from './run-group.js';
import { RunIds } from './run-ids.js';
import { type CallBatch, type CallRecorder, type CallStart, openRecord } from './run-recorder.js';
import { SeededRandom } from './seeded-random.js';

/**
 * One generator thread: runs its share of a group on its own event loop and connections. It
 * records nothing itself: every started call and every answer goes to the main thread in batches
 * (history, histograms, checks and the status line stay whole there).
 */
const port = parentPort!;
const send = (message: FromGenerator): void => port.postMessage(message);

class ShippingRecorder implements CallRecorder {
  private batch: CallBatch = { begun: [], done: [], offered: {}, dropped: {} };
  private next = 0;

  constructor(private readonly t0Ns: bigint) {}

  nowNs(): bigint {
    return process.hrtime.bigint() - this.t0Ns;
  }

  begin(start: CallStart): OpRecord {
    const record = openRecord(this.next++, start, this.nowNs());
    this.batch.begun.push(record);
    return record;
  }

  finish(record: OpRecord, outcome: CallOutcome): void {
    this.batch.done.push({ id: record.index, completeNs: this.nowNs(), outcome });
  }

  finishBatch(): void {
    // Groups with batch calls run on the main thread (runPhase never sends them here).
    throw new Error('ExecuteBatch is not sent from generator threads');
  }

  offered(op: OpKind | 'batch', warmup: boolean): void {
    if (!warmup) this.batch.offered[op] = (this.batch.offered[op] ?? 0) + 1;
  }

  dropped(op: OpKind | 'batch', warmup: boolean): void {
    if (!warmup) this.batch.dropped[op] = (this.batch.dropped[op] ?? 0) + 1;
  }

  flush(): void {
    const b = this.batch;
    if (b.begun.length === 0 && b.done.length === 0 && Object.keys(b.offered).length === 0) return;
    this.batch = { begun: [], done: [], offered: {}, dropped: {} };
    send({ type: 'batch', batch: b });
  }
}

const stop = { stopped: false };
let down: Promise<void> | undefined;
let up: (() => void) | undefined;
const channels: H2Channel[] = [];
/** The address each channel talks to, in step with `channels` (one instance may restart alone). */
const channelTargets: string[] = [];
const clients: LedgerClient[] = [];
/** Where each of the job's targets is now: a restart during start-up moves it before any channel exists. */
let targetsNow: string[] = [];

/**
 * Connects to the job's target `t`. A fault may kill the server while this thread starts (a
 * thread takes a while to load): then the connect fails, the gate is down, and the restarted
 * server listens elsewhere. Wait for the gate and connect to where it is now.
 */
async function connectTo<T>(t: number, open: (target: string) => Promise<T>): Promise<[T, string]> {
  for (let tries = 1; ; tries++) {
    if (down !== undefined) await down;
    const target = targetsNow[t]!;
    try {
      return [await open(target), target];
    } catch (err) {
      // The gate's message may trail the refused connect by a moment.
      if (down === undefined) await new Promise((resolve) => setTimeout(resolve, 100));
      const moved = down !== undefined || targetsNow[t] !== target;
      if (!moved || tries >= HARNESS_LIMITS.generatorConnectTries) throw err;
    }
  }
}

async function run(job: GeneratorJob): Promise<void> {
  const callers: Caller[] = [];
  targetsNow = [...job.targets];
  for (const [t] of job.targets.entries()) {
    for (let i = 0; i < job.connections; i++) {
      if (job.loadClient === 'lean') {
        const tls = job.security?.tls;
        const [ch, target] = await connectTo(t, async (at) => {
          const channel = new H2Channel(`${tls === undefined ? 'http' : 'https'}://${at}`, {
            maxResponseBytes: job.maxResponseBytes,
            deadlineTickMs: HARNESS_LIMITS.deadlineTickMs,
            tls,
            token: job.security?.token,
          });
          try {
            await channel.connect(HARNESS_LIMITS.targetConnectTimeoutMs);
          } catch (err) {
            channel.close();
            throw err;
          }
          return channel;
        });
        channels.push(ch);
        channelTargets.push(target);
        callers.push((op, args, deadlineMs) => h2CallOp(ch, op, args, deadlineMs));
      } else {
        const [client] = await connectTo(t, async (at) => {
          const c = new LedgerClient(at, {
            channelKey: `ledgerctl-gen-${job.thread}-${i}`,
            maxResponseBytes: job.maxResponseBytes,
            security: job.security,
          });
          try {
            await c.waitForReady(HARNESS_LIMITS.targetConnectTimeoutMs);
          } catch (err) {
            c.close();
            throw err;
          }
          return c;
        });
        clients.push(client);
        const k = clients.length - 1;
        callers.push((op, args, deadlineMs) => callOp(clients[k]!, op, args, deadlineMs));
      }
    }
  }
  const ids = new RunIds(job.idsPrefix);
  const acknowledged: string[] = [];
  const base: CallSource =
    job.spec.script !== undefined
      ? scriptedSource(job.spec.name, job.spec.script, ids)
      : mixSource(job.spec, job.pool, ids, acknowledged);
  // Call i of this thread is call thread + threads * i of the group: ids stay unique across threads.
  const source: CallSource = (index, round, caller, random) =>
    base(job.thread + job.threads * index, round, caller, random);
  const recorder = new ShippingRecorder(job.t0Ns);
  const flusher = setInterval(() => recorder.flush(), HARNESS_LIMITS.generatorBatchMs);
  try {
    const result = await runGroup({
      phase: job.phase,
      spec: job.share,
      source,
      recorder,
      callers,
      batchCallers: [],
      random: new SeededRandom(job.seed),
      callerBase: job.callerBase,
      deadlineMs: job.deadlineMs,
      stop,
      acknowledged,
      gate: () => down,
      startOffsetMs: job.startOffsetMs,
      callerOffset: job.callerOffset,
    });
    recorder.flush();
    send({ type: 'done', result });
  } finally {
    clearInterval(flusher);
    for (const ch of channels) ch.close();
    for (const c of clients) c.close();
  }
}

port.on('message', (message: ToGenerator) => {
  switch (message.type) {
    case 'run':
      if (message.job.gateDown && down === undefined) down = new Promise((resolve) => (up = resolve));
      run(message.job).catch((err: unknown) =>
        send({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
      );
      break;
    case 'gate':
      if (message.down && down === undefined) down = new Promise((resolve) => (up = resolve));
      if (!message.down) {
        down = undefined;
        up?.();
      }
      break;
    case 'retarget':
      targetsNow = targetsNow.map((t) =>
        message.previous === undefined || t === message.previous ? message.target : t,
      );
      channels.forEach((ch, i) => {
        if (message.previous !== undefined && channelTargets[i] !== message.previous) return;
        ch.retarget(message.target);
        channelTargets[i] = message.target;
      });
      break;
    case 'stop':
      stop.stopped = true;
      break;
  }
});
