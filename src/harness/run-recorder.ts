import { createWriteStream, type WriteStream } from 'node:fs';
import type { CallOutcome } from './call-op.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { OpKind, OpRecord } from './history.js';
import { OpStats } from './op-stats.js';

/** What is known of a call when it starts: the request half of its history record. */
export type CallStart = Pick<OpRecord, 'phase' | 'group' | 'caller' | 'op' | 'args' | 'scheduledNs'> & {
  warmup: boolean;
};

/** What the load engine needs of a recorder: the run's own (RunRecorder) or a generator thread's. */
export interface CallRecorder {
  nowNs(): bigint;
  begin(start: CallStart): OpRecord;
  finish(record: OpRecord, outcome: CallOutcome): void;
  finishBatch(records: readonly OpRecord[], call: CallOutcome, items: readonly CallOutcome[]): void;
  offered(op: OpKind | 'batch', warmup: boolean): void;
  dropped(op: OpKind | 'batch', warmup: boolean): void;
}

/** A generator thread's calls since its last batch: started ones, then the answers (by thread-local id). */
export interface CallBatch {
  begun: OpRecord[];
  done: { id: number; completeNs: bigint; outcome: CallOutcome }[];
  offered: Partial<Record<OpKind | 'batch', number>>;
  dropped: Partial<Record<OpKind | 'batch', number>>;
}

/** JSON with bigint as decimal strings (exact), for the JSONL history and the JSON report. */
export function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/** A call that has started and not answered: indeterminate ('info') until it is finished. */
export function openRecord(index: number, start: CallStart, invokeNs: bigint): OpRecord {
  return {
    index,
    phase: start.phase,
    group: start.group,
    caller: start.caller,
    op: start.op,
    args: start.args,
    scheduledNs: start.scheduledNs,
    invokeNs,
    completeNs: -1n,
    type: 'info',
    warmup: start.warmup || undefined,
  };
}

/**
 * Everything observed about the calls of a run: the full history (for the checkers), the calls in
 * flight (for stuck-phase reports), per-op statistics (for the report), and the optional JSONL
 * history for external checkers (one invoke line per call, then one ok/fail/info line).
 */
export class RunRecorder implements CallRecorder {
  readonly records: OpRecord[] = [];
  readonly inFlight = new Map<number, OpRecord>();
  readonly stats = new Map<string, OpStats>();
  /** Calls started, including those past the record cap. */
  started = 0;
  completed = 0;
  errors = 0;
  truncated = false;
  /** The run's time origin (process-wide monotonic clock, the same in every thread). */
  readonly t0 = process.hrtime.bigint();
  /** Records of generator threads by thread and thread-local id, while they are in flight. */
  private readonly threadCalls = new Map<string, OpRecord>();
  private readonly history: WriteStream | undefined;

  private readonly keepHistory: boolean;

  /** `keepHistory: false` (calibration): statistics only, no records for checkers. */
  constructor(historyFile?: string, options: { keepHistory?: boolean } = {}) {
    this.history = historyFile === undefined ? undefined : createWriteStream(historyFile);
    this.keepHistory = options.keepHistory ?? true;
  }

  /** Nanoseconds since the run started. */
  nowNs(): bigint {
    return process.hrtime.bigint() - this.t0;
  }

  statsFor(op: string): OpStats {
    let stats = this.stats.get(op);
    if (stats === undefined) {
      stats = new OpStats();
      this.stats.set(op, stats);
    }
    return stats;
  }

  /** `invokeNs`: when a generator thread sent it (default: now). */
  begin(start: CallStart, invokeNs?: bigint): OpRecord {
    const record = openRecord(this.started++, start, invokeNs ?? this.nowNs());
    if (!this.keepHistory) {
      // Statistics only.
    } else if (this.records.length < HARNESS_LIMITS.maxRecordedOps) this.records.push(record);
    else this.truncated = true;
    this.inFlight.set(record.index, record);
    // Without a history file, skip building the line: the generator's allocations are its GC pauses.
    if (this.history !== undefined)
      this.writeHistory({
        type: 'invoke',
        index: record.index,
        process: record.caller,
        f: record.op,
        value: record.args,
        time: record.invokeNs,
      });
    return record;
  }

  finish(record: OpRecord, outcome: CallOutcome): void {
    this.finishAt(record, outcome, this.nowNs());
  }

  /**
   * A generator thread's batch: its calls join the one history (dense indexes in arrival order)
   * and the one set of histograms, exactly as if this thread had made them.
   */
  absorb(thread: number, batch: CallBatch): void {
    for (const r of batch.begun) {
      const start = {
        phase: r.phase,
        group: r.group,
        caller: r.caller,
        op: r.op,
        args: r.args,
        scheduledNs: r.scheduledNs,
        warmup: r.warmup === true,
      };
      const record = this.begin(start, r.invokeNs);
      this.threadCalls.set(`${thread}:${r.index}`, record);
    }
    for (const d of batch.done) {
      const key = `${thread}:${d.id}`;
      const record = this.threadCalls.get(key);
      if (record === undefined) continue;
      this.threadCalls.delete(key);
      this.finishAt(record, d.outcome, d.completeNs);
    }
    for (const [op, n] of Object.entries(batch.offered)) this.count(op, 'offered', n);
    for (const [op, n] of Object.entries(batch.dropped)) this.count(op, 'dropped', n);
  }

  private count(op: string, what: 'offered' | 'dropped', n: number): void {
    this.statsFor(op)[what] += n;
    this.statsFor('*')[what] += n;
  }

  private finishAt(record: OpRecord, outcome: CallOutcome, completeNs: bigint): void {
    record.completeNs = completeNs;
    this.settle(record, outcome);
    this.recordStats([record.op, '*'], record, outcome);
  }

  /**
   * One ExecuteBatch call answered: each item's record gets its own outcome (the checkers see
   * writes); the statistics get one `batch` call (its latency, its own failure) and one
   * `batch-item` entry per item (its code), with the call's times.
   */
  finishBatch(records: readonly OpRecord[], call: CallOutcome, items: readonly CallOutcome[]): void {
    const completeNs = this.nowNs();
    for (const [i, record] of records.entries()) {
      record.completeNs = completeNs;
      this.settle(record, items[i]!);
      this.recordStats(['batch-item'], record, items[i]!);
    }
    if (records[0] !== undefined) this.recordStats(['batch', '*'], records[0], call);
  }

  private recordStats(keys: readonly string[], record: OpRecord, outcome: CallOutcome): void {
    for (const key of keys) {
      const stats = this.statsFor(key);
      if (record.warmup) {
        stats.warmup++;
        continue;
      }
      const serviceUs = Number(record.completeNs - record.invokeNs) / 1_000;
      const latencyUs = Number(record.completeNs - (record.scheduledNs ?? record.invokeNs)) / 1_000;
      stats.record(
        record.invokeNs,
        record.completeNs,
        latencyUs,
        serviceUs,
        outcome.type === 'ok' ? undefined : (outcome.code ?? 'UNKNOWN'),
        outcome.replayed === true,
        outcome.serverTimeUs,
        record.scheduledNs === undefined ? undefined : Number(record.invokeNs - record.scheduledNs) / 1_000,
      );
    }
  }

  private settle(record: OpRecord, outcome: CallOutcome): void {
    Object.assign(record, outcome);
    this.inFlight.delete(record.index);
    this.completed++;
    if (outcome.type !== 'ok') this.errors++;
    if (this.history !== undefined)
      this.writeHistory({
        type: outcome.type,
        index: record.index,
        process: record.caller,
        f: record.op,
        value: {
          ...record.args,
          code: outcome.code,
          message: outcome.message,
          replayed: outcome.replayed,
          accounts: outcome.accounts,
          snapshot: outcome.snapshot,
          logEntry: outcome.logEntry,
        },
        time: record.completeNs,
      });
  }

  /** Open loop: a due send was dropped because too many calls were in flight. */
  dropped(op: OpKind | 'batch', warmup: boolean): void {
    if (warmup) return;
    this.statsFor(op).dropped++;
    this.statsFor('*').dropped++;
  }

  offered(op: OpKind | 'batch', warmup: boolean): void {
    if (warmup) return;
    this.statsFor(op).offered++;
    this.statsFor('*').offered++;
  }

  async close(): Promise<void> {
    if (this.history === undefined) return;
    const stream = this.history;
    await new Promise<void>((resolve, reject) =>
      stream.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
  }

  private writeHistory(line: Record<string, unknown>): void {
    this.history?.write(`${JSON.stringify(line, jsonReplacer)}\n`);
  }
}
