import type { LogEntryResult } from '../../client/ledger-client.js';
import type { ConformanceRule } from './conformance-rule.js';
import { type RuleContext, show } from './rule-context.js';

async function entryOf(ctx: RuleContext, txid: string): Promise<LogEntryResult | undefined> {
  return ctx.expectOk(await ctx.getTransaction(txid));
}

/** The audit log: one entry per committed write, exact fields, positions in commit order. */
export const logRules: ConformanceRule[] = [
  {
    name: 'log-entry-fields',
    summary:
      'GetTransaction returns every field: id, operation, account_ids, amount, balances_after, status OK',
    async run(ctx) {
      const a = ctx.id('a');
      const b = await ctx.setupAccount('b', 0n);
      const create = ctx.expectOk(await ctx.create(a, 100n, ctx.id('c')));
      const update = ctx.expectOk(await ctx.update(a, -30n, ctx.id('u')));
      const transfer = ctx.expectOk(await ctx.transfer(a, b, 20n, ctx.id('t')));
      if (!create || !update || !transfer) return;
      const expected = [
        { txid: ctx.id('c'), operation: 'create', accountIds: [a], amount: 100n, balancesAfter: [100n] },
        { txid: ctx.id('u'), operation: 'update', accountIds: [a], amount: -30n, balancesAfter: [70n] },
        {
          txid: ctx.id('t'),
          operation: 'transfer',
          accountIds: [a, b],
          amount: 20n,
          balancesAfter: [50n, 20n],
        },
      ];
      for (const e of expected) {
        const entry = await entryOf(ctx, e.txid);
        if (entry === undefined) continue;
        // The principal depends on how the server authenticates the kit, not on the contract.
        const { position: _p, timestampNs: _t, principal: _who, ...fields } = entry;
        ctx.expectEqual('entry', fields, {
          transactionId: e.txid,
          operation: e.operation,
          accountIds: e.accountIds,
          amount: e.amount,
          balancesAfter: e.balancesAfter,
          status: 'OK',
        });
        if (entry.position < 1n)
          ctx.violation(ctx.request, `position ${entry.position}`, 'a 1-based position');
      }
    },
  },
  {
    name: 'log-positions',
    summary: 'positions increase in commit order and stay within the snapshot log_position',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 0n);
      const positions: bigint[] = [];
      for (let i = 0; i < 5; i++) {
        const txid = ctx.id(`u${i}`);
        ctx.expectOk(await ctx.update(a, 1n, txid));
        const entry = await entryOf(ctx, txid);
        if (entry !== undefined) positions.push(entry.position);
      }
      for (let i = 1; i < positions.length; i++) {
        if (positions[i]! <= positions[i - 1]!) {
          ctx.violation(
            '5 sequential UpdateBalance, then GetTransaction of each',
            `positions ${show(positions)}`,
            'strictly increasing positions',
          );
          break;
        }
      }
      const snapshot = ctx.expectOk(await ctx.snapshot(false));
      const last = positions.at(-1);
      if (snapshot && last !== undefined && snapshot.logPosition < last) {
        ctx.violation(
          ctx.request,
          `log_position ${snapshot.logPosition}`,
          `log_position >= ${last} (the last entry written)`,
        );
      }
    },
  },
  {
    name: 'log-timestamps-nanoseconds',
    summary:
      'timestamps are real wall-clock time with nanosecond precision (some entry has a non-zero sub-millisecond part)',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 0n);
      const beforeNs = BigInt(Date.now() - 60_000) * 1_000_000n;
      const stamps: bigint[] = [];
      for (let i = 0; i < 8; i++) {
        const txid = ctx.id(`u${i}`);
        ctx.expectOk(await ctx.update(a, 1n, txid));
        const entry = await entryOf(ctx, txid);
        if (entry !== undefined) stamps.push(entry.timestampNs);
      }
      const afterNs = BigInt(Date.now() + 60_000) * 1_000_000n;
      const request = '8 UpdateBalance, then GetTransaction of each';
      const implausible = stamps.filter((t) => t < beforeNs || t > afterNs);
      if (implausible.length > 0) {
        ctx.violation(
          request,
          `timestamps ${show(implausible)} ns`,
          'wall-clock time of the commit (within a minute of the client clock)',
        );
      }
      if (stamps.length > 0 && stamps.every((t) => t % 1_000_000n === 0n)) {
        ctx.violation(
          request,
          `timestamps ${show(stamps)} ns, all whole milliseconds`,
          'nanosecond precision',
        );
      }
    },
  },
  {
    name: 'create-generated-txid',
    summary:
      'CreateAccount without a transaction id commits and logs an entry (its generated id is not on the wire)',
    async run(ctx) {
      const before = ctx.expectOk(await ctx.snapshot(false));
      const id = ctx.id('a');
      const created = ctx.expectOk(await ctx.create(id, 3n));
      if (created) ctx.expectEqual('account', created, { accountId: id, balance: 3n, version: 0n });
      const after = ctx.expectOk(await ctx.snapshot(false));
      if (before && after && after.logPosition <= before.logPosition) {
        ctx.violation(
          `CreateAccount${show({ account_id: id, initial_balance: 3n, transaction_id: '' })} between two GetSnapshot`,
          `log_position ${before.logPosition} -> ${after.logPosition}`,
          'a new log entry (log_position advances)',
        );
      }
      // A generated id must not be the empty string: GetTransaction("") is no way to find it.
      const empty = await ctx.getTransaction('');
      if (empty.ok)
        ctx.violation(
          ctx.request,
          `OK ${show(empty.value)}`,
          'no entry is filed under an empty transaction id',
        );
    },
  },
  {
    name: 'failed-outcome-not-logged',
    summary:
      'only committed writes enter the log: GetTransaction of an id whose outcome was an error is NOT_FOUND',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 1n);
      const b = await ctx.setupAccount('b', 0n);
      const ids = [ctx.id('over'), ctx.id('missing'), ctx.id('over-t'), ctx.id('dup')];
      ctx.expectError(await ctx.update(a, -5n, ids[0]!), 'FAILED_PRECONDITION', /./);
      ctx.expectError(await ctx.update(ctx.id('nobody'), 5n, ids[1]!), 'NOT_FOUND', /./);
      ctx.expectError(await ctx.transfer(a, b, 5n, ids[2]!), 'FAILED_PRECONDITION', /./);
      ctx.expectError(await ctx.create(a, 5n, ids[3]!), 'ALREADY_EXISTS', /./);
      for (const txid of ids) {
        ctx.expectError(await ctx.getTransaction(txid), 'NOT_FOUND', `Transaction ${txid} not found`);
      }
    },
  },
];
