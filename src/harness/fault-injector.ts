import type { LedgerClient } from '../client/ledger-client.js';
import { callOp } from './call-op.js';
import type { FaultTarget } from './command-fault-target.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { OpRecord } from './history.js';
import { isWriteOp } from './op-kinds.js';
import type { RunRecorder } from './run-recorder.js';
import type { FaultSpec } from './scenario-schema.js';
import type { SeededRandom } from './seeded-random.js';

export interface RestartReport {
  /** 1-based kill number. */
  kill: number;
  /** Run time of the kill. */
  atMs: number;
  /** Kill until the clients were connected to the new process again. */
  downMs: number;
  /** Spawn until the new process printed its listening line. */
  readyMs: number;
  /** From the server's `ledger recovered` log line, when it arrived. */
  recoveryMs?: number;
  recoveredAccounts?: number;
  recoveredLogEntries?: number;
}

export interface RetryReport {
  /** Writes resent with their transaction id after a restart. */
  sent: number;
  /** Answered `ledger-replayed`: the write had landed before the kill. */
  replayed: number;
  /** Executed by the retry: the write had not landed. */
  executed: number;
  /** Refused with a recorded outcome (e.g. FAILED_PRECONDITION). */
  refused: number;
  /** Interrupted again (and resent after the next restart, if any). */
  indeterminate: number;
}

export interface FaultReport {
  signal: string;
  kills: number;
  restarts: RestartReport[];
  /** Calls recorded as info (indeterminate) in the whole run. */
  indeterminateCalls: number;
  retries: RetryReport | undefined;
  unexpectedExits: string[];
  restartFailures: string[];
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Writes a kill left unknown; the retry settles them. A call still in flight is 'info' too until
 * it answers (completeNs < 0): it is no retry candidate yet.
 */
const isRetryable = (r: OpRecord): boolean =>
  r.type === 'info' && r.completeNs >= 0n && isWriteOp(r.op) && !!r.args.transactionId;

export interface FaultInjectorOptions {
  spec: FaultSpec;
  server: FaultTarget;
  /** The run's clients, read at every call (retries use them). */
  clients: readonly LedgerClient[];
  /** Points every client and caller at the restarted server. */
  reconnect: (target: string) => Promise<void>;
  recorder: RunRecorder;
  random: SeededRandom;
  deadlineMs: number;
  /** First caller id reserved for retries (after every group's callers). */
  retryCallerBase: number;
}

/**
 * Kills the spawned server at seeded random moments while the phases run and restarts it on the
 * same data dir. Callers reach the server through `clients` (read at every call), whose entries are
 * replaced after each restart: the new process listens on a new port. While it is down, `gate()`
 * holds new calls back; calls already in flight fail UNAVAILABLE/CANCELLED and are recorded as
 * indeterminate (info). After each restart the writes left indeterminate are resent with their
 * transaction ids: each must replay (it landed) or apply now (it did not), never twice.
 */
export class FaultInjector {
  private stopped = false;
  private wake: (() => void) | undefined;
  private down: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private retrying: Promise<void> = Promise.resolve();
  private readonly retried = new Set<number>();
  private readonly restarts: RestartReport[] = [];
  readonly killTimesNs: bigint[] = [];
  readonly restartFailures: string[] = [];
  private readonly retries: RetryReport = { sent: 0, replayed: 0, executed: 0, refused: 0, indeterminate: 0 };

  private readonly spec: FaultSpec;
  private readonly server: FaultTarget;
  private readonly clients: readonly LedgerClient[];
  private readonly reconnect: (target: string) => Promise<void>;
  private readonly recorder: RunRecorder;
  private readonly random: SeededRandom;
  private readonly deadlineMs: number;
  private readonly retryCallerBase: number;

  constructor(options: FaultInjectorOptions) {
    this.spec = options.spec;
    this.server = options.server;
    this.clients = options.clients;
    this.reconnect = options.reconnect;
    this.recorder = options.recorder;
    this.random = options.random;
    this.deadlineMs = options.deadlineMs;
    this.retryCallerBase = options.retryCallerBase;
  }

  /** Between a kill and the clients' reconnecting to the restarted server. */
  get isDown(): boolean {
    return this.down !== undefined;
  }

  /** Resolves when the server is up; undefined (no wait) while it is. */
  gate: () => Promise<void> | undefined = () => this.down;

  /** Told when the server goes down and comes back (generator threads hold their sends meanwhile). */
  readonly gateListeners: ((down: boolean) => void)[] = [];

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const { minMs, maxMs } = this.spec.every;
    while (!this.stopped && (this.spec.count === undefined || this.restarts.length < this.spec.count)) {
      await this.sleep(minMs + this.random.next() * (maxMs - minMs));
      if (this.stopped) return;
      let up!: () => void;
      this.down = new Promise((resolve) => (up = resolve));
      for (const listener of this.gateListeners) listener(true);
      const atNs = this.recorder.nowNs();
      this.killTimesNs.push(atNs);
      const t0 = performance.now();
      try {
        await this.server.kill(this.spec.signal ?? 'SIGKILL');
        const start = await this.server.start();
        await this.reconnect(start.target);
        this.restarts.push({
          kill: this.restarts.length + 1,
          atMs: Number(atNs) / 1e6,
          downMs: performance.now() - t0,
          readyMs: start.readyMs,
        });
      } catch (err) {
        // A server that does not come back on its own data dir is a finding, not a harness error:
        // it fails the durability verdict. Calls keep failing (indeterminate) until the phases end.
        this.restartFailures.push(
          `kill #${this.killTimesNs.length}: the server did not come back: ${err instanceof Error ? err.message : String(err)}`,
        );
        this.stopped = true;
        this.gate = () => pause(HARNESS_LIMITS.deadServerPauseMs);
        return;
      } finally {
        this.down = undefined;
        up();
        for (const listener of this.gateListeners) listener(false);
      }
      if (this.spec.retry_indeterminate)
        this.retrying = this.retrying.then(async () => void (await this.retryPass()));
    }
  }

  /** Stops killing; returns once the server is up and (if asked) every retry has settled. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.retrying;
    if (!this.spec.retry_indeterminate || this.restartFailures.length > 0) return;
    for (let pass = 0; pass < HARNESS_LIMITS.finalRetryPasses; pass++) {
      if ((await this.retryPass()) === 0) break;
    }
  }

  report(indeterminateCalls: number): FaultReport {
    const starts = this.server.starts;
    return {
      signal: this.spec.command === undefined ? (this.spec.signal ?? 'SIGKILL') : 'command',
      kills: this.killTimesNs.length,
      restarts: this.restarts.map((r) => {
        // starts[0] is the first start; restart k is start k.
        const recovery = starts[r.kill]?.recovery;
        return recovery === undefined
          ? r
          : {
              ...r,
              recoveryMs: recovery.durationMs,
              recoveredAccounts: recovery.accounts,
              recoveredLogEntries: recovery.logEntries,
            };
      }),
      indeterminateCalls,
      retries: this.spec.retry_indeterminate ? { ...this.retries } : undefined,
      unexpectedExits: [...this.server.unexpectedExits],
      restartFailures: [...this.restartFailures],
    };
  }

  /** Resends every write left indeterminate and not resent yet; returns how many it sent. */
  private async retryPass(): Promise<number> {
    const pending = this.recorder.records.filter((r) => isRetryable(r) && !this.retried.has(r.index));
    for (const r of pending) this.retried.add(r.index);
    let next = 0;
    const lanes = Array.from(
      { length: Math.min(HARNESS_LIMITS.retryConcurrency, pending.length) },
      async (_, lane) => {
        while (next < pending.length) {
          const original = pending[next++]!;
          await this.down;
          const record = this.recorder.begin({
            phase: original.phase,
            group: original.group,
            caller: this.retryCallerBase + lane,
            op: original.op,
            args: original.args,
            warmup: false,
          });
          const client = this.clients[lane % this.clients.length]!;
          const outcome = await callOp(client, original.op, original.args, this.deadlineMs);
          this.recorder.finish(record, outcome);
          this.retries.sent++;
          if (outcome.type === 'info') this.retries.indeterminate++;
          else if (outcome.replayed === true) this.retries.replayed++;
          else if (outcome.type === 'ok') this.retries.executed++;
          else this.retries.refused++;
        }
      },
    );
    await Promise.all(lanes);
    return pending.length;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
