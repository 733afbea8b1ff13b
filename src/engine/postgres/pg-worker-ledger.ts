import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BatchItemOutcome, BatchOperationInput } from '../../domain/batch.js';
import { Errors } from '../../domain/errors.js';
import { LIMITS } from '../../domain/limits.js';
import type { AccountState, LogEntry, Snapshot, WriteCommand } from '../../domain/types.js';
import {
  type CreateInput,
  type TransferInput,
  type UpdateInput,
  validateCreate,
  validateTransfer,
  validateUpdate,
} from '../../domain/validate.js';
import type { Ledger, WriteOutcome } from '../ledger.js';
import { StorageFailure } from '../storage.js';
import type { PgLedgerOptions, PgMetrics } from './pg-ledger.js';
import {
  type AnswerValue,
  decodeError,
  decodeItemOutcomes,
  type EncodedItemOutcome,
  type FromWorker,
  type ToWorker,
  type WorkerCall,
} from './pg-worker-protocol.js';

/** Where the compiled worker is: beside this module, or (running from sources, in tests) in dist/. */
function workerUrl(): URL {
  const beside = new URL('./pg-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL('../../../dist/src/engine/postgres/pg-worker.js', import.meta.url);
}

export const PG_CLIENT_THREADS = ['worker', 'main'] as const;
/** Where a server's database client runs (serve --db-thread). */
export type PgClientThread = (typeof PG_CLIENT_THREADS)[number];

/** The options a worker can be given (structured-clonable: no clock). */
export type PgWorkerLedgerOptions = Omit<PgLedgerOptions, 'clock'>;

interface Pending {
  resolve(value: AnswerValue): void;
  reject(err: unknown): void;
}

/**
 * The PostgreSQL ledger with its database client on a worker thread (docs/postgres.md, "Decision:
 * which thread runs the database client"). The server's main thread decodes and validates each
 * call (the same checks, in the same order, as PgLedger), then hands it to the worker; calls of
 * one event-loop turn travel as one message, and the worker's answers come back the same way.
 * The worker runs a PgLedger: group transactions, flush barriers, same-id claims, availability
 * probe and sweep, with its own heap and event loop, so gRPC and database work use two cores.
 *
 * If the worker dies (an uncaught exception, a broken invariant), every call in flight fails with
 * UNAVAILABLE (its outcome is unknown, as for a lost COMMIT: callers retry with their ids), new
 * calls get UNAVAILABLE, and onStorageFailure listeners hear it: health NOT_SERVING, `serve` exits.
 */
export class PgWorkerLedger implements Ledger {
  readonly storageKind = 'postgres';
  readonly lockingMode = 'row';
  private readonly pending = new Map<number, Pending>();
  private outbox: WorkerCall[] = [];
  private flushScheduled = false;
  private nextId = 1;
  private serving = true;
  private closing = false;
  private closed: Promise<void> | undefined;
  private failure: StorageFailure | undefined;
  private readonly servingListeners: ((serving: boolean, reason?: string) => void)[] = [];
  private readonly failureListeners: ((failure: StorageFailure) => void)[] = [];
  private readonly exited: Promise<void>;
  private lastMetrics: PgMetrics | undefined;

  private constructor(
    private readonly worker: Worker,
    /** How long close() waits for the worker: its groups are bounded by the statement and connect timeouts. */
    private readonly closeTimeoutMs: number,
  ) {
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    worker.on('message', (message: FromWorker) => this.receive(message));
    worker.on('error', (err) => this.fail(`the database worker thread crashed: ${err.message}`, err));
    worker.once('exit', (code) => {
      if (this.closed === undefined) this.fail(`the database worker thread exited (code ${code})`);
    });
  }

  /**
   * Starts the worker and waits for its PgLedger to open. Throws what PgLedger.open throws.
   * `onWorker` (tests) is given the thread, to end it or watch it end.
   */
  static async open(
    options: PgWorkerLedgerOptions,
    onWorker?: (worker: Worker) => void,
  ): Promise<PgWorkerLedger> {
    const worker = new Worker(workerUrl(), {
      workerData: options,
      // The worker allocates per write too (query results, group arrays): the server's young
      // generation (serve-node-flags.ts) does not reach it, a worker's heap is sized here.
      resourceLimits: { maxYoungGenerationSizeMb: 3 * LIMITS.serveSemiSpaceMb },
    });
    let onMessage!: (m: FromWorker) => void;
    let onError!: (err: Error) => void;
    let onExit!: (code: number) => void;
    const opened = await new Promise<FromWorker>((resolve, reject) => {
      onMessage = resolve;
      onError = reject;
      onExit = (code) => reject(new Error(`the database worker thread exited (code ${code})`));
      worker.once('message', onMessage).once('error', onError).once('exit', onExit);
    });
    // Not removeAllListeners(): Worker's own listeners (ref/unref of its port) must stay.
    worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    if (opened.type === 'open-failed') {
      await worker.terminate();
      throw decodeError(opened.error);
    }
    onWorker?.(worker);
    return new PgWorkerLedger(worker, options.statementTimeoutMs + options.connectTimeoutMs + 5_000);
  }

  /** The worker's figures as it last sent them (at most LIMITS.pgWorkerMetricsIntervalMs old). */
  pgMetrics(): PgMetrics | undefined {
    return this.lastMetrics;
  }

  watchServing(listener: (serving: boolean, reason?: string) => void): void {
    this.servingListeners.push(listener);
    listener(this.serving);
  }

  onStorageFailure(listener: (failure: StorageFailure) => void): void {
    if (this.failure !== undefined) listener(this.failure);
    else this.failureListeners.push(listener);
  }

  createAccount(input: CreateInput, principal = ''): Promise<WriteOutcome> {
    return this.write(() => validateCreate(input), principal);
  }

  updateBalance(input: UpdateInput, principal = ''): Promise<WriteOutcome> {
    return this.write(() => validateUpdate(input), principal);
  }

  transferFunds(input: TransferInput, principal = ''): Promise<WriteOutcome> {
    return this.write(() => validateTransfer(input), principal);
  }

  /** Validated in the worker: its checks come before the database's state (as in PgLedger). */
  async executeBatch(
    operations: readonly BatchOperationInput[],
    principal = '',
  ): Promise<BatchItemOutcome[]> {
    if (this.closing) throw Errors.shuttingDown();
    const outcomes = await this.call({ id: this.nextId++, kind: 'batch', operations, principal });
    return decodeItemOutcomes(outcomes as EncodedItemOutcome[]);
  }

  getBalance(accountId: string): Promise<AccountState> {
    return this.call({ id: this.nextId++, kind: 'balance', accountId }) as Promise<AccountState>;
  }

  getSnapshot(includeAccounts: boolean): Promise<Snapshot> {
    return this.call({ id: this.nextId++, kind: 'snapshot', includeAccounts }) as Promise<Snapshot>;
  }

  getTransaction(transactionId: string): Promise<LogEntry> {
    return this.call({ id: this.nextId++, kind: 'transaction', transactionId }) as Promise<LogEntry>;
  }

  /** Refuses new calls, lets the worker finish the writes in flight and end its pool, then ends it. */
  close(): Promise<void> {
    this.closing = true;
    this.closed ??= this.shutDown();
    return this.closed;
  }

  private async shutDown(): Promise<void> {
    if (this.failure === undefined) {
      this.flush();
      this.worker.postMessage({ type: 'close' } satisfies ToWorker);
      const timer = setTimeout(() => void this.worker.terminate(), this.closeTimeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    for (const p of this.pending.values()) p.reject(Errors.shuttingDown());
    this.pending.clear();
  }

  /** Same checks, same order as PgLedger.write: shutting down, the input, the database's state. */
  private write(validate: () => WriteCommand, principal: string): Promise<WriteOutcome> {
    let cmd: WriteCommand;
    try {
      if (this.closing) throw Errors.shuttingDown();
      cmd = validate();
      // The worker checks again; this spares a lost database's flood of writes the hop.
      if (!this.serving) throw Errors.storageUnavailable();
    } catch (err) {
      return Promise.reject(err);
    }
    return this.call({ id: this.nextId++, kind: 'write', cmd, principal }) as Promise<WriteOutcome>;
  }

  /** Reads go to the worker as they are: its PgLedger checks them (input first, then the database). */
  private call(call: WorkerCall): Promise<AnswerValue> {
    if (this.failure !== undefined) return Promise.reject(Errors.storageUnavailable());
    if (this.closing) return Promise.reject(Errors.shuttingDown());
    return new Promise<AnswerValue>((resolve, reject) => {
      this.pending.set(call.id, { resolve, reject });
      this.outbox.push(call);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0 || this.failure !== undefined) return;
    const calls = this.outbox;
    this.outbox = [];
    this.worker.postMessage({ type: 'calls', calls } satisfies ToWorker);
  }

  private receive(message: FromWorker): void {
    switch (message.type) {
      case 'answers':
        for (const [id, ok, value] of message.answers) {
          const p = this.pending.get(id);
          if (p === undefined) continue;
          this.pending.delete(id);
          if (ok) p.resolve(value);
          else p.reject(decodeError(value));
        }
        return;
      case 'serving':
        this.setServing(message.serving, message.reason);
        return;
      case 'metrics':
        this.lastMetrics = message.metrics;
        return;
      default:
        return;
    }
  }

  private setServing(serving: boolean, reason?: string): void {
    if (this.failure !== undefined) return;
    this.serving = serving;
    for (const listener of this.servingListeners) listener(serving, reason);
  }

  /** The worker is gone: nothing it had in flight can be vouched for, and nothing more is served. */
  private fail(reason: string, err?: unknown): void {
    if (this.failure !== undefined) return;
    this.setServing(false);
    this.failure = new StorageFailure(reason);
    if (err !== undefined) this.failure.cause = err;
    for (const p of this.pending.values()) p.reject(Errors.storageUnavailable());
    this.pending.clear();
    this.outbox = [];
    for (const listener of this.failureListeners) listener(this.failure);
  }
}
