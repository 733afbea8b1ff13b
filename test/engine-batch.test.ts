import { describe, expect, it } from 'vitest';
import type { BatchItemOutcome, BatchOperationInput } from '../src/domain/batch.js';
import { LedgerError } from '../src/domain/errors.js';
import { LIMITS } from '../src/domain/limits.js';
import { INT64_MAX } from '../src/domain/money.js';
import { LedgerEngine, type WriteOutcome } from '../src/engine/ledger-engine.js';
import { type CommitBatch, DelayedCommitStorage, MemoryStorage } from '../src/engine/storage.js';

const create = (
  accountId: string,
  initialBalance: bigint,
  transactionId = '',
  linked = false,
): BatchOperationInput => ({
  kind: 'create',
  input: { accountId, initialBalance, transactionId },
  linked,
});
const update = (
  accountId: string,
  delta: bigint,
  transactionId: string,
  linked = false,
): BatchOperationInput => ({
  kind: 'update',
  input: { accountId, delta, transactionId },
  linked,
});
const transfer = (
  fromId: string,
  toId: string,
  amount: bigint,
  transactionId: string,
  linked = false,
): BatchOperationInput => ({ kind: 'transfer', input: { fromId, toId, amount, transactionId }, linked });

/** An outcome as comparable text: `OK <result>` or `<code> <message>`, with the replay flag. */
function show(outcome: BatchItemOutcome): string {
  if (!outcome.ok)
    return `${outcome.error.code} ${outcome.error.message}${outcome.error.replayed ? ' (replayed)' : ''}`;
  const accounts = outcome.result.accounts.map((a) => `${a.id}=${a.balance}v${a.version}`).join(',');
  return `OK ${outcome.result.transactionId} ${accounts}${outcome.replayed ? ' (replayed)' : ''}`;
}

async function unary(engine: LedgerEngine, op: BatchOperationInput): Promise<BatchItemOutcome> {
  let reply: WriteOutcome;
  try {
    if (op.kind === 'create') reply = await engine.createAccount(op.input);
    else if (op.kind === 'update') reply = await engine.updateBalance(op.input);
    else if (op.kind === 'transfer') reply = await engine.transferFunds(op.input);
    else throw op.error;
  } catch (err) {
    if (!(err instanceof LedgerError)) throw err;
    return { ok: false, error: err };
  }
  return { ok: true, result: reply.result, replayed: reply.replayed };
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof LedgerError) return `${err.code} ${err.message}`;
    throw err;
  }
  throw new Error('expected a refusal');
}

/** Storage that counts commits and remembers what each held. */
class CountingStorage extends MemoryStorage {
  readonly commits: CommitBatch[] = [];
  override commit(batch: CommitBatch): Promise<void> | undefined {
    this.commits.push(batch);
    return undefined;
  }
}

/** Every kind of outcome, unlinked: the batch answers each exactly as its unary call. */
const MIXED: BatchOperationInput[] = [
  create('a', 100n, 'c-a'),
  create('b', 0n),
  create('a', 5n, 'c-a2'),
  update('a', -30n, 'u1'),
  update('a', -500n, 'u2'),
  update('zz', 1n, 'u3'),
  transfer('a', 'b', 50n, 't1'),
  transfer('a', 'b', 50n, 't2'),
  transfer('a', 'a', 1n, 't3'),
  transfer('a', 'b', 0n, 't4'),
  update('', 1n, 'u4'),
  update('b', 1n, 'u6'),
  { kind: 'invalid', error: new LedgerError('INVALID_ARGUMENT', 'operation is required'), linked: false },
  update('b', INT64_MAX, 'u5'),
  create('c', INT64_MAX - 100n, 'c-c'),
];

describe('ExecuteBatch in the engine', () => {
  it('answers every operation exactly as the same calls made one by one', async () => {
    const one = await LedgerEngine.open();
    const batched = await LedgerEngine.open();
    const expected: string[] = [];
    for (const op of MIXED) expected.push(show(await unary(one, op)));
    const got = (await batched.executeBatch(MIXED)).map(show);
    // A create without an id gets a generated one: compare it by shape.
    expect(got[1]).toMatch(/^OK [0-9a-f-]{36} b=0v0$/);
    expect(got.filter((_, i) => i !== 1)).toEqual(expected.filter((_, i) => i !== 1));
    expect(batched.getSnapshot(true)).toEqual(one.getSnapshot(true));
    // The same log, at consecutive positions in batch order.
    const ids = ['c-a', 'u1', 't1', 'c-c'];
    const entries = await Promise.all(ids.map((id) => batched.getTransaction(id)));
    expect(entries.map((e) => e.position)).toEqual([1, 3, 4, 6]);
    expect(entries.map((e) => e.operation)).toEqual(['create', 'update', 'transfer', 'create']);
    expect(entries[2]!.balancesAfter).toEqual([20n, 50n]);
  });

  it('is one commit holding every entry and record, and replays as a whole', async () => {
    const storage = new CountingStorage();
    const engine = await LedgerEngine.open({ storage });
    const first = (await engine.executeBatch(MIXED)).map(show);
    expect(storage.commits).toHaveLength(1);
    const [commit] = storage.commits;
    expect(commit!.logEntries.map((e) => e.position)).toEqual([1, 2, 3, 4, 5, 6]);
    // Successes with an id, and failures decided by ledger state: recorded. INVALID_ARGUMENT and conflicts: not.
    expect(commit!.txRecords.map((r) => r.transactionId).sort()).toEqual(
      ['c-a', 'c-a2', 'u1', 'u2', 'u3', 't1', 't2', 'u6', 'u5', 'c-c'].sort(),
    );
    expect(commit!.accounts.map((a) => `${a.id}=${a.balance}`).sort()).toEqual([
      'a=20',
      'b=51',
      'c=9223372036854775707',
    ]);

    const replay = (
      await engine.executeBatch(MIXED.filter((op) => op.kind !== 'create' || op.input.transactionId !== ''))
    ).map(show);
    const recorded = first.filter((_, i) => i !== 1);
    // Recorded outcomes come back flagged; refusals that were never recorded are refused again.
    expect(replay).toEqual(
      recorded.map((line) => (line.startsWith('INVALID_ARGUMENT') ? line : `${line} (replayed)`)),
    );
    expect(engine.getSnapshot(false).logPosition).toBe(6);
  });

  it('a failed linked chain changes nothing, records nothing, and every member says why', async () => {
    const engine = await LedgerEngine.open();
    await engine.executeBatch([create('a', 100n), create('b', 0n)]);
    const outcomes = await engine.executeBatch([
      update('a', 1n, 'before'),
      transfer('a', 'b', 60n, 'l1', true),
      update('b', 5n, 'l2', true),
      transfer('a', 'b', 60n, 'l3', true),
      update('a', 1n, 'l4'),
      update('b', 2n, 'after'),
    ]);
    expect(outcomes.map(show)).toEqual([
      'OK before a=101v1',
      'ABORTED Linked operation failed',
      'ABORTED Linked operation failed',
      'FAILED_PRECONDITION Insufficient balance in account a: current=41, required=60',
      'ABORTED Linked operation failed',
      'OK after b=2v1',
    ]);
    expect(engine.getBalance('a')).toEqual({ id: 'a', balance: 101n, version: 1 });
    expect(engine.getSnapshot(false)).toMatchObject({ totalBalance: 103n, logPosition: 4 });
    // The chain's ids are unused: each may now run on its own.
    expect(show(await unary(engine, update('a', 2n, 'l1')))).toBe('OK l1 a=103v2');
    expect(show(await unary(engine, transfer('a', 'b', 60n, 'l3')))).toBe('OK l3 a=43v3,b=62v2');
  });

  it('a linked chain that succeeds commits every member, each seeing the one before', async () => {
    const engine = await LedgerEngine.open();
    const outcomes = await engine.executeBatch([
      create('x', 10n, 'cx', true),
      create('y', 0n, 'cy', true),
      transfer('x', 'y', 10n, 'txy'),
      update('y', -10n, 'drain'),
    ]);
    expect(outcomes.map(show)).toEqual([
      'OK cx x=10v0',
      'OK cy y=0v0',
      'OK txy x=0v1,y=10v1',
      'OK drain y=0v2',
    ]);
    expect(engine.getSnapshot(false)).toMatchObject({ totalBalance: 0n, accountCount: 2, logPosition: 4 });
  });

  it('an invalid or conflicting member fails its chain too', async () => {
    const engine = await LedgerEngine.open();
    await engine.executeBatch([create('a', 100n), create('b', 0n), update('a', 1n, 'used')]);
    const outcomes = await engine.executeBatch([
      update('a', 1n, 'k1', true),
      update('a', 2n, 'used'),
      transfer('a', 'b', 0n, 'k2', true),
      update('b', 1n, 'k3'),
    ]);
    expect(outcomes.map(show)).toEqual([
      'ABORTED Linked operation failed',
      'ALREADY_EXISTS Transaction used already exists with different parameters',
      'INVALID_ARGUMENT Transfer amount must be positive',
      'ABORTED Linked operation failed',
    ]);
    expect(engine.getSnapshot(false)).toMatchObject({ totalBalance: 101n, logPosition: 3 });
  });

  it('refuses the batch as a whole, claiming nothing, in the documented order', async () => {
    const engine = await LedgerEngine.open();
    expect(await refusal(engine.executeBatch([]))).toBe('INVALID_ARGUMENT Batch has no operations');
    const tooMany = Array.from({ length: LIMITS.maxBatchOperations + 1 }, (_, i) =>
      update('a', 1n, `t${i}`, true),
    );
    expect(await refusal(engine.executeBatch(tooMany))).toBe(
      `INVALID_ARGUMENT Batch has ${LIMITS.maxBatchOperations + 1} operations; the limit is ${LIMITS.maxBatchOperations}`,
    );
    expect(await refusal(engine.executeBatch([create('a', 1n, 'x'), update('a', 1n, 'y', true)]))).toBe(
      'INVALID_ARGUMENT The last operation of the batch is linked: the linked chain is never closed',
    );
    expect(await refusal(engine.executeBatch([create('a', 1n, 'x'), update('a', 1n, 'x')]))).toBe(
      'INVALID_ARGUMENT Transaction x appears more than once in the batch',
    );
    // Nothing ran, nothing was claimed.
    expect(show(await unary(engine, create('a', 1n, 'x')))).toBe('OK x a=1v0');
    expect(engine.getSnapshot(false).logPosition).toBe(1);
  });

  it('keeps the total of all balances inside int64 across the batch', async () => {
    const engine = await LedgerEngine.open();
    const outcomes = await engine.executeBatch([
      create('a', INT64_MAX - 5n, 'c1'),
      create('b', 5n, 'c2'),
      create('c', 1n, 'c3'),
      update('a', -10n, 'u1'),
      create('c', 1n, 'c4'),
    ]);
    expect(outcomes.map(show)).toEqual([
      'OK c1 a=9223372036854775802v0',
      'OK c2 b=5v0',
      'OUT_OF_RANGE Change of 1 to account c would take the total of all balances out of the int64 range',
      'OK u1 a=9223372036854775792v1',
      'OK c4 c=1v0',
    ]);
    expect(engine.getSnapshot(false).totalBalance).toBe(INT64_MAX - 9n);
  });

  it('interleaves with concurrent unary writes and batches without losing a unit', async () => {
    const engine = await LedgerEngine.open({ storage: new DelayedCommitStorage({ minMs: 0, maxMs: 3 }) });
    const ids = ['a', 'b', 'c', 'd'];
    await engine.executeBatch(ids.map((id) => create(id, 1_000n)));
    const work: Promise<unknown>[] = [];
    for (let round = 0; round < 30; round++) {
      const ops = Array.from({ length: 20 }, (_, k) =>
        transfer(
          ids[k % 4]!,
          ids[(k + 1 + round) % 4 === k % 4 ? (k + 2) % 4 : (k + 1 + round) % 4]!,
          7n,
          `b${round}-${k}`,
          k % 5 === 1,
        ),
      );
      work.push(engine.executeBatch(ops));
      work.push(unary(engine, transfer(ids[round % 4]!, ids[(round + 1) % 4]!, 3n, `u${round}`)));
      // The same ids again, concurrently: replays of the first, never a second effect.
      work.push(engine.executeBatch(ops));
    }
    await Promise.all(work);
    const snapshot = engine.getSnapshot(true);
    expect(snapshot.totalBalance).toBe(4_000n);
    expect(snapshot.accounts!.reduce((sum, a) => sum + a.balance, 0n)).toBe(4_000n);
    expect(engine.stats().writesInFlight).toBe(0);
    expect(engine.stats().txidsHeld).toBe(engine.getSnapshot(false).logPosition - 4);
  });
});
