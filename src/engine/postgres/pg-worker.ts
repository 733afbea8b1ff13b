import { parentPort, workerData } from 'node:worker_threads';
import { LIMITS } from '../../domain/limits.js';
import { PgLedger, type PgLedgerOptions } from './pg-ledger.js';
import {
  type Answer,
  type AnswerValue,
  encodeError,
  encodeItemOutcomes,
  type FromWorker,
  type ToWorker,
  type WorkerCall,
} from './pg-worker-protocol.js';

/**
 * The database worker thread (started by PgWorkerLedger): a PgLedger with its connection pools,
 * group transactions, flush barriers, probe and sweep, off the thread that runs gRPC. Its calls
 * arrive validated, in one message per event-loop turn of the main thread; its answers leave in
 * one message per turn of this one. It keeps no state of its own but the PgLedger's.
 *
 * A failure here that no call can answer for (an uncaught exception, a broken invariant outside a
 * call) ends this thread; the main thread then fails every call in flight with UNAVAILABLE and
 * reports a storage failure (health NOT_SERVING, `serve` exits): never a wrong answer.
 */
const port = parentPort!;
const post = (message: FromWorker): void => port.postMessage(message);

const ledger = await PgLedger.open(workerData as PgLedgerOptions).catch((err: unknown) => {
  post({ type: 'open-failed', error: encodeError(err) });
  // Nothing else is open (open() ended its pool): with the port closed the thread ends.
  port.close();
  return undefined;
});
if (ledger !== undefined) serve(ledger);

function serve(ledger: PgLedger): void {
  post({ type: 'opened' });
  ledger.watchServing((serving, reason) => post({ type: 'serving', serving, reason }));
  const metrics = setInterval(
    () => post({ type: 'metrics', metrics: ledger.pgMetrics() }),
    LIMITS.pgWorkerMetricsIntervalMs,
  );
  let answers: Answer[] = [];
  let flushScheduled = false;
  const flush = (): void => {
    flushScheduled = false;
    if (answers.length === 0) return;
    const batch = answers;
    answers = [];
    post({ type: 'answers', answers: batch });
  };
  const answer = (a: Answer): void => {
    answers.push(a);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  port.on('message', (message: ToWorker) => {
    if (message.type === 'close') {
      clearInterval(metrics);
      // close() waits for the writes in flight; their answers go out before 'closed'.
      void ledger.close().finally(() => {
        flush();
        post({ type: 'closed' });
        port.close();
      });
      return;
    }
    for (const call of message.calls) {
      run(ledger, call).then(
        (value) => answer([call.id, true, value]),
        (err: unknown) => answer([call.id, false, encodeError(err)]),
      );
    }
  });
}

function run(ledger: PgLedger, call: WorkerCall): Promise<AnswerValue> {
  switch (call.kind) {
    case 'write':
      return ledger.writeCommand(call.cmd, call.principal);
    case 'batch':
      return ledger.executeBatch(call.operations, call.principal).then(encodeItemOutcomes);
    case 'balance':
      return ledger.getBalance(call.accountId);
    case 'snapshot':
      return ledger.getSnapshot(call.includeAccounts);
    case 'transaction':
      return ledger.getTransaction(call.transactionId);
  }
}
