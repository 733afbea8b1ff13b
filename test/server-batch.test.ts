import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { type BatchItemResult, type BatchOperation, LedgerCallError } from '../src/client/ledger-client.js';
import { Errors } from '../src/domain/errors.js';
import { LIMITS } from '../src/domain/limits.js';
import { type CommitBatch, MemoryStorage } from '../src/engine/storage.js';
import { openDurable, removeDir, tempDir } from './durable-fixture.js';
import { PINO_ERROR, startTestServer, type TestServer } from './server-fixture.js';

let t: TestServer | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

const brief = (r: BatchItemResult): string => {
  if (!r.ok) return `${r.codeName}(${r.code}) ${r.message}${r.replayed ? ' (replayed)' : ''}`;
  const v =
    r.kind === 'create'
      ? `${r.value.accountId}=${r.value.balance}v${r.value.version}`
      : r.kind === 'update'
        ? `${r.value.transactionId} ${r.value.account.accountId}=${r.value.account.balance}`
        : `${r.value.transactionId} ${r.value.from.balance}/${r.value.to.balance}`;
  return `OK ${v}${r.replayed ? ' (replayed)' : ''}`;
};

async function callError(work: Promise<unknown>): Promise<LedgerCallError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof LedgerCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('ExecuteBatch over gRPC', () => {
  it('answers each operation with its unary code and message, replay flag per item, failures logged', async () => {
    t = await startTestServer();
    const ops: BatchOperation[] = [
      { kind: 'create', accountId: 'a', initialBalance: 100n, transactionId: 'ca' },
      { kind: 'create', accountId: 'b', initialBalance: 0n },
      { kind: 'transfer', fromAccountId: 'a', toAccountId: 'b', amount: 30n, transactionId: 't1' },
      { kind: 'update', accountId: 'b', delta: -31n, transactionId: 'u1' },
      { kind: 'update', accountId: 'a', delta: 5n, transactionId: 'u2', linked: true },
      { kind: 'transfer', fromAccountId: 'a', toAccountId: 'nobody', amount: 1n, transactionId: 't2' },
    ];
    const first = await t.client.executeBatch(ops);
    expect(first.replayed).toBe(false);
    expect(first.value.map(brief)).toEqual([
      'OK a=100v0',
      'OK b=0v0',
      'OK t1 70/30',
      'FAILED_PRECONDITION(9) Insufficient balance: current=30, delta=-31',
      'ABORTED(10) Linked operation failed',
      'NOT_FOUND(5) Account nobody not found',
    ]);
    const failures = t.logs.filter((l) => l.level === PINO_ERROR && l.operation === 'ExecuteBatch');
    expect(failures.map((l) => [l.index, l.code, l.msg])).toEqual([
      [3, 'FAILED_PRECONDITION', 'Insufficient balance: current=30, delta=-31'],
      [4, 'ABORTED', 'Linked operation failed'],
      [5, 'NOT_FOUND', 'Account nobody not found'],
    ]);
    expect(failures[3 - 3]).toMatchObject({ accountIds: ['b'], transactionId: 'u1' });

    // Again without the create that had no id: recorded outcomes replay, the failed chain runs again.
    const again = await t.client.executeBatch(ops.filter((_, i) => i !== 1));
    expect(again.value.map(brief)).toEqual([
      'OK a=100v0 (replayed)',
      'OK t1 70/30 (replayed)',
      'FAILED_PRECONDITION(9) Insufficient balance: current=30, delta=-31 (replayed)',
      'ABORTED(10) Linked operation failed',
      'NOT_FOUND(5) Account nobody not found',
    ]);
    // A batch item and a unary call share one idempotency space.
    const unary = await t.client.transferFunds('a', 'b', 30n, 't1');
    expect([unary.replayed, unary.value.from.balance]).toEqual([true, 70n]);
    expect((await t.client.getSnapshot(false)).value).toMatchObject({ totalBalance: 100n, logPosition: 3n });
  });

  it('refuses a malformed batch as a whole with INVALID_ARGUMENT and the exact message', async () => {
    t = await startTestServer();
    const client = t.client;
    const cases: [BatchOperation[], string][] = [
      [[], 'Batch has no operations'],
      [
        [{ kind: 'create', accountId: 'a', initialBalance: 1n, linked: true }],
        'The last operation of the batch is linked: the linked chain is never closed',
      ],
      [
        [
          { kind: 'update', accountId: 'a', delta: 1n, transactionId: 'same' },
          { kind: 'update', accountId: 'b', delta: 1n, transactionId: 'same' },
        ],
        'Transaction same appears more than once in the batch',
      ],
    ];
    for (const [ops, message] of cases) {
      const err = await callError(client.executeBatch(ops));
      expect([err.code, err.details]).toEqual([grpc.status.INVALID_ARGUMENT, message]);
    }
    // An operation that names nothing is refused on its own.
    const raw = await client.raw<{ results: { error: { code: number; message: string } }[] }>(
      'ExecuteBatch',
      {
        operations: [{ linked: false }],
      },
    );
    expect(raw.value.results[0]!.error).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      message: 'operation is required',
    });
    expect((await client.getSnapshot(false)).value.logPosition).toBe(0n);
  });

  it('takes a full batch of the largest operations within the request size limit', async () => {
    t = await startTestServer();
    const long = (tag: string, i: number) => `${tag}${i}`.padEnd(LIMITS.maxAccountIdBytes, 'x');
    const accounts = [long('acct-a', 0), long('acct-b', 0)];
    await t.client.executeBatch(
      accounts.map((id) => ({ kind: 'create', accountId: id, initialBalance: 10n ** 15n })),
    );
    const ops: BatchOperation[] = Array.from({ length: LIMITS.maxBatchOperations }, (_, i) => ({
      kind: 'transfer',
      fromAccountId: accounts[i % 2]!,
      toAccountId: accounts[(i + 1) % 2]!,
      amount: 1_000_000_007n,
      transactionId: long('tx', i),
    }));
    const reply = await t.client.executeBatch(ops);
    expect(reply.value.filter((r) => r.ok)).toHaveLength(LIMITS.maxBatchOperations);
    const err = await callError(t.client.executeBatch([...ops, ops[0]!]));
    expect([err.code, err.details]).toEqual([
      grpc.status.INVALID_ARGUMENT,
      `Batch has ${LIMITS.maxBatchOperations + 1} operations; the limit is ${LIMITS.maxBatchOperations}`,
    ]);
  });
});

describe('ExecuteBatch when a commit fails (a disk that fills up)', () => {
  it('answers UNAVAILABLE with the storage message, not INTERNAL, and leaves its ids unused', async () => {
    class FillingStorage extends MemoryStorage {
      full = false;
      override commit(_batch: CommitBatch): Promise<void> {
        return new Promise((resolve, reject) =>
          setTimeout(() => (this.full ? reject(new Error('No space left on device')) : resolve()), 2),
        );
      }
    }
    const storage = new FillingStorage();
    t = await startTestServer({ engine: { storage } });
    await t.client.executeBatch([{ kind: 'create', accountId: 'a', initialBalance: 10n }]);
    storage.full = true;
    const err = await callError(
      t.client.executeBatch([{ kind: 'update', accountId: 'a', delta: 1n, transactionId: 'u' }]),
    );
    expect([err.code, err.details]).toEqual([grpc.status.UNAVAILABLE, Errors.storageFailed().message]);
    expect(t.violations).toEqual([]);
  });
});

describe('ExecuteBatch on LMDB', () => {
  it('is one durable commit: after a restart every entry is there, consecutive and in batch order', async () => {
    const dir = tempDir();
    try {
      let engine = await openDurable(dir);
      const ops = Array.from({ length: 500 }, (_, i) => ({
        kind: 'update' as const,
        input: { accountId: 'a', delta: BigInt(i), transactionId: `u${i}` },
        linked: false,
      }));
      await engine.executeBatch([
        { kind: 'create', input: { accountId: 'a', initialBalance: 0n }, linked: false },
      ]);
      const outcomes = await engine.executeBatch(ops);
      expect(outcomes.every((o) => o.ok)).toBe(true);
      await engine.close();
      engine = await openDurable(dir);
      expect(engine.getBalance('a')).toEqual({ id: 'a', balance: (499n * 500n) / 2n, version: 500 });
      const entries = await Promise.all([0, 1, 250, 499].map((i) => engine.getTransaction(`u${i}`)));
      expect(entries.map((e) => e.position)).toEqual([2, 3, 252, 501]);
      const replay = await engine.executeBatch(ops.slice(0, 3));
      expect(replay.map((o) => o.ok && o.replayed)).toEqual([true, true, true]);
      await engine.close();
    } finally {
      removeDir(dir);
    }
  });
});
