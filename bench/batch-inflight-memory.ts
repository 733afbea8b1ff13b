import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { MemoryStorage } from '../src/engine/storage.js';
import { GRPC_STATUS_OF } from '../src/server/status-codes.js';
import { decodeExecuteBatchRequest, encodeExecuteBatchResponse } from '../src/wire/batch-codec.js';
import { BatchTemplates, INITIAL_BALANCE, ids } from './batch-request.js';
import { forceGc } from './force-gc.js';

/**
 * The live heap of one ExecuteBatch of 8,190 transfers while it is in flight, in process: decoded,
 * then claimed and decided with its commit held open (a storage whose commit waits to be
 * released), then answered. Each figure is the heap after forced collections minus the heap
 * before the request arrived, so it counts what the batch keeps alive, not the garbage it makes
 * (batch-bench's peak heap counts both). The request and answer Buffers are outside the heap.
 *
 *   npm run build && node dist/bench/batch-inflight-memory.js
 */

/** Memory storage whose commits wait until released: a batch stays in flight with all its state. */
class HeldStorage extends MemoryStorage {
  private releaseCommit: (() => void) | undefined;
  override commit(): Promise<void> {
    return new Promise((resolve) => {
      this.releaseCommit = resolve;
    });
  }
  release(): void {
    this.releaseCommit?.();
    this.releaseCommit = undefined;
  }
}

const SIZE = 8_190;
const storage = new HeldStorage();
const engine = await LedgerEngine.open({ storage, locking: 'account' });
const turn = () => new Promise((resolve) => setImmediate(resolve));
for (const id of ids) {
  const created = engine.createAccount({ accountId: id.toString(), initialBalance: INITIAL_BALANCE });
  await turn();
  storage.release();
  await created;
}
const templates = new BatchTemplates(SIZE, 0, 0, 'mem');
const run = async (): Promise<void> => {
  const pending = engine.executeBatch(decodeExecuteBatchRequest(templates.next()));
  await turn();
  storage.release();
  await pending;
};
for (let i = 0; i < 5; i++) await run();

const heap = (): number => {
  forceGc();
  return process.memoryUsage().heapUsed;
};
const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
/** One batch measured in its own call, so nothing of the previous round is still referenced. */
async function measureRound(): Promise<void> {
  const body = templates.next();
  const base = heap();
  const operations = decodeExecuteBatchRequest(body);
  const decoded = heap() - base;
  const pending = engine.executeBatch(operations);
  await turn();
  const inFlight = heap() - base;
  storage.release();
  const outcomes = await pending;
  const answered = heap() - base;
  const response = encodeExecuteBatchResponse(operations, outcomes, (code) => GRPC_STATUS_OF[code]);
  console.log(
    `${SIZE} transfers, request ${(body.length / 2 ** 20).toFixed(2)} MiB, answer ${(response.length / 2 ** 20).toFixed(2)} MiB; ` +
      `live heap above the baseline: decoded ${mib(decoded)} MiB, in flight (claimed, decided, commit pending) ${mib(inFlight)} MiB, ` +
      `answered (outcomes held, records kept) ${mib(answered)} MiB`,
  );
}
for (let round = 0; round < 3; round++) await measureRound();
