import type { BatchItemResult, BatchOperation } from '../../client/ledger-client.js';
import type { ConformanceRule } from './conformance-rule.js';
import { type RuleContext, show } from './rule-context.js';

/** The contract's batch limit; a server with another limit fails the too-large check visibly. */
const MAX_BATCH_OPERATIONS = 8190;

/** One batch result as a line: `OK <value>` or `<CODE> '<message>'`, with the replay flag. */
function showItem(item: BatchItemResult): string {
  const replay = item.replayed ? ' [replayed]' : '';
  return item.ok ? `OK ${show(item.value)}${replay}` : `${item.codeName} '${item.message}'${replay}`;
}

/** Compares each result with the contract's answer for it, one violation per mismatch. */
function expectItems(ctx: RuleContext, got: BatchItemResult[] | undefined, expected: string[]): void {
  if (got === undefined) return;
  if (got.length !== expected.length) {
    ctx.violation(ctx.request, `${got.length} results`, `${expected.length} results, one per operation`);
    return;
  }
  got.forEach((item, i) => {
    const line = showItem(item);
    if (line !== expected[i]) ctx.violation(`${ctx.request} operation ${i}`, line, expected[i]!);
  });
}

const acct = (id: string, balance: bigint, version: bigint) => show({ accountId: id, balance, version });
const upd = (txid: string, id: string, balance: bigint, version: bigint) =>
  show({ transactionId: txid, account: { accountId: id, balance, version } });
const xfer = (txid: string, from: [string, bigint, bigint], to: [string, bigint, bigint]) =>
  show({
    transactionId: txid,
    from: { accountId: from[0], balance: from[1], version: from[2] },
    to: { accountId: to[0], balance: to[1], version: to[2] },
  });

/** ExecuteBatch: per-operation unary answers, one run of log positions, linked chains, batch refusals. */
export const batchRules: ConformanceRule[] = [
  {
    name: 'batch-per-operation',
    summary:
      'every batch operation gets exactly its unary answer, in order, each seeing the ones before it; failed ones change nothing',
    async run(ctx) {
      const a = ctx.id('a');
      const b = ctx.id('b');
      const ops: BatchOperation[] = [
        { kind: 'create', accountId: a, initialBalance: 100n, transactionId: ctx.id('ca') },
        { kind: 'create', accountId: b, initialBalance: 0n, transactionId: ctx.id('cb') },
        { kind: 'transfer', fromAccountId: a, toAccountId: b, amount: 60n, transactionId: ctx.id('t1') },
        { kind: 'transfer', fromAccountId: a, toAccountId: b, amount: 60n, transactionId: ctx.id('t2') },
        { kind: 'update', accountId: b, delta: -10n, transactionId: ctx.id('u1') },
        { kind: 'update', accountId: ctx.id('nobody'), delta: 1n, transactionId: ctx.id('u2') },
        { kind: 'create', accountId: a, initialBalance: 1n, transactionId: ctx.id('ca2') },
        { kind: 'transfer', fromAccountId: a, toAccountId: a, amount: 1n, transactionId: ctx.id('t3') },
        { kind: 'update', accountId: '', delta: 1n, transactionId: ctx.id('u3') },
      ];
      const reply = ctx.expectOk(await ctx.batch(ops));
      expectItems(ctx, reply, [
        `OK ${acct(a, 100n, 0n)}`,
        `OK ${acct(b, 0n, 0n)}`,
        `OK ${xfer(ctx.id('t1'), [a, 40n, 1n], [b, 60n, 1n])}`,
        `FAILED_PRECONDITION 'Insufficient balance in account ${a}: current=40, required=60'`,
        `OK ${upd(ctx.id('u1'), b, 50n, 2n)}`,
        `NOT_FOUND 'Account ${ctx.id('nobody')} not found'`,
        `ALREADY_EXISTS 'Account ${a} already exists'`,
        `INVALID_ARGUMENT 'Cannot transfer to the same account'`,
        `INVALID_ARGUMENT 'account_id is required'`,
      ]);
      ctx.expectEqual('account', await ctx.current(a), { accountId: a, balance: 40n, version: 1n });
      ctx.expectEqual('account', await ctx.current(b), { accountId: b, balance: 50n, version: 2n });
    },
  },
  {
    name: 'batch-log-run',
    summary:
      "a batch's audit-log entries are consecutive positions in batch order, one per committed operation",
    async run(ctx) {
      const a = await ctx.setupAccount('a', 1_000n);
      const ids = [0, 1, 2, 3, 4].map((i) => ctx.id(`u${i}`));
      const ops: BatchOperation[] = ids.map((transactionId, i) => ({
        kind: 'update',
        accountId: a,
        // The third one fails: no log entry for it, and no gap either.
        delta: i === 2 ? -5_000n : BigInt(i + 1),
        transactionId,
      }));
      ctx.expectOk(await ctx.batch(ops));
      const positions: bigint[] = [];
      for (const [i, txid] of ids.entries()) {
        const entry = await ctx.getTransaction(txid);
        if (i === 2) {
          ctx.expectError(entry, 'NOT_FOUND', `Transaction ${txid} not found`);
          continue;
        }
        const value = ctx.expectOk(entry);
        if (value !== undefined) positions.push(value.position);
      }
      const first = positions[0] ?? 0n;
      ctx.expectEqual('positions', positions, [first, first + 1n, first + 2n, first + 3n]);
    },
  },
  {
    name: 'batch-replay',
    summary:
      'a batch operation replays a recorded outcome (from a batch or a unary call) with replayed set on that result only',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 100n);
      const b = await ctx.setupAccount('b', 0n);
      ctx.expectOk(await ctx.transfer(a, b, 10n, ctx.id('unary')));
      const ops: BatchOperation[] = [
        { kind: 'transfer', fromAccountId: a, toAccountId: b, amount: 10n, transactionId: ctx.id('unary') },
        { kind: 'update', accountId: a, delta: -500n, transactionId: ctx.id('over') },
        { kind: 'update', accountId: b, delta: 5n, transactionId: ctx.id('new') },
      ];
      const first = ctx.expectOk(await ctx.batch(ops));
      expectItems(ctx, first, [
        `OK ${xfer(ctx.id('unary'), [a, 90n, 1n], [b, 10n, 1n])} [replayed]`,
        `FAILED_PRECONDITION 'Insufficient balance: current=90, delta=-500'`,
        `OK ${upd(ctx.id('new'), b, 15n, 2n)}`,
      ]);
      ctx.expectOk(await ctx.update(a, 1_000n, ctx.id('deposit')));
      const again = ctx.expectOk(await ctx.batch(ops));
      expectItems(ctx, again, [
        `OK ${xfer(ctx.id('unary'), [a, 90n, 1n], [b, 10n, 1n])} [replayed]`,
        `FAILED_PRECONDITION 'Insufficient balance: current=90, delta=-500' [replayed]`,
        `OK ${upd(ctx.id('new'), b, 15n, 2n)} [replayed]`,
      ]);
      const conflict = ctx.expectOk(
        await ctx.batch([{ kind: 'update', accountId: b, delta: 6n, transactionId: ctx.id('new') }]),
      );
      expectItems(ctx, conflict, [
        `ALREADY_EXISTS 'Transaction ${ctx.id('new')} already exists with different parameters'`,
      ]);
      ctx.expectEqual('account', await ctx.current(b), { accountId: b, balance: 15n, version: 2n });
    },
  },
  {
    name: 'batch-linked-chain',
    summary:
      "a failed linked chain changes nothing and leaves its ids unused; its failing member gives its own error, the others ABORTED 'Linked operation failed'",
    async run(ctx) {
      const a = await ctx.setupAccount('a', 100n);
      const b = await ctx.setupAccount('b', 0n);
      const chain: BatchOperation[] = [
        { kind: 'update', accountId: a, delta: 1n, transactionId: ctx.id('before') },
        {
          kind: 'transfer',
          fromAccountId: a,
          toAccountId: b,
          amount: 80n,
          transactionId: ctx.id('l1'),
          linked: true,
        },
        {
          kind: 'transfer',
          fromAccountId: a,
          toAccountId: b,
          amount: 80n,
          transactionId: ctx.id('l2'),
          linked: true,
        },
        { kind: 'update', accountId: b, delta: 1n, transactionId: ctx.id('l3') },
        { kind: 'update', accountId: b, delta: 2n, transactionId: ctx.id('after'), linked: true },
        { kind: 'update', accountId: a, delta: 3n, transactionId: ctx.id('after2') },
      ];
      const reply = ctx.expectOk(await ctx.batch(chain));
      expectItems(ctx, reply, [
        `OK ${upd(ctx.id('before'), a, 101n, 1n)}`,
        `ABORTED 'Linked operation failed'`,
        `FAILED_PRECONDITION 'Insufficient balance in account ${a}: current=21, required=80'`,
        `ABORTED 'Linked operation failed'`,
        `OK ${upd(ctx.id('after'), b, 2n, 1n)}`,
        `OK ${upd(ctx.id('after2'), a, 104n, 2n)}`,
      ]);
      ctx.expectEqual('account', await ctx.current(a), { accountId: a, balance: 104n, version: 2n });
      // Nothing of the chain was recorded: its ids run on their own now.
      const l2 = ctx.expectOk(await ctx.transfer(a, b, 80n, ctx.id('l2')));
      if (l2) ctx.expectEqual('from', l2.from, { accountId: a, balance: 24n, version: 3n });
      ctx.expectError(
        await ctx.getTransaction(ctx.id('l1')),
        'NOT_FOUND',
        `Transaction ${ctx.id('l1')} not found`,
      );
    },
  },
  {
    name: 'batch-refusals',
    summary:
      'an empty batch, one above 8,190 operations, an open linked chain and a repeated id are refused whole with INVALID_ARGUMENT; nothing runs',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 10n);
      const op = (label: string, linked = false): BatchOperation => ({
        kind: 'update',
        accountId: a,
        delta: 1n,
        transactionId: ctx.id(label),
        linked,
      });
      ctx.expectError(await ctx.batch([]), 'INVALID_ARGUMENT', 'Batch has no operations');
      const tooMany = Array.from({ length: MAX_BATCH_OPERATIONS + 1 }, (_, i) => op(`many-${i}`));
      ctx.expectError(
        await ctx.batch(tooMany),
        'INVALID_ARGUMENT',
        `Batch has ${MAX_BATCH_OPERATIONS + 1} operations; the limit is ${MAX_BATCH_OPERATIONS}`,
      );
      ctx.expectError(
        await ctx.batch([op('open-1'), op('open-2', true)]),
        'INVALID_ARGUMENT',
        'The last operation of the batch is linked: the linked chain is never closed',
      );
      ctx.expectError(
        await ctx.batch([op('dup'), op('other'), op('dup')]),
        'INVALID_ARGUMENT',
        `Transaction ${ctx.id('dup')} appears more than once in the batch`,
      );
      await ctx.expectUnchanged(a, 10n, 0n, 'refused batches');
      // Nothing was claimed: the ids are free.
      ctx.expectOk(await ctx.update(a, 1n, ctx.id('dup')));
    },
  },
];
