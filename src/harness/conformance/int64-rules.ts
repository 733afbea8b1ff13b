import type { ConformanceRule } from './conformance-rule.js';

const INT64_MAX = 2n ** 63n - 1n;
const BEYOND_DOUBLE = 2n ** 53n + 1n;

/** int64 values travel exactly (no double rounding) and results outside int64 are refused. */
export const int64Rules: ConformanceRule[] = [
  {
    name: 'int64-exact',
    summary: '2^53+1 round-trips exactly through create, update, get and the log',
    async run(ctx) {
      const id = ctx.id('a');
      const created = ctx.expectOk(await ctx.create(id, BEYOND_DOUBLE, ctx.id('c')));
      if (created) ctx.expectEqual('balance', created.balance, BEYOND_DOUBLE);
      const updated = ctx.expectOk(await ctx.update(id, BEYOND_DOUBLE, ctx.id('u')));
      if (updated) ctx.expectEqual('balance', updated.account.balance, 2n * BEYOND_DOUBLE);
      ctx.expectEqual('balance', (await ctx.current(id)).balance, 2n * BEYOND_DOUBLE);
      const entry = ctx.expectOk(await ctx.getTransaction(ctx.id('u')));
      if (entry) {
        ctx.expectEqual('amount', entry.amount, BEYOND_DOUBLE);
        ctx.expectEqual('balances_after', entry.balancesAfter, [2n * BEYOND_DOUBLE]);
      }
      ctx.expectOk(await ctx.update(id, -2n * BEYOND_DOUBLE, ctx.id('back')));
    },
  },
  {
    name: 'int64-max-and-overflow',
    summary:
      'a balance at the int64 edge is exact; a change past it is refused with OUT_OF_RANGE and changes nothing',
    async run(ctx) {
      // The money already on a shared server keeps the total inside int64; the account takes the rest
      // (exactly int64 max on an empty server) and gives it back at the end.
      const before = ctx.expectOk(await ctx.snapshot(false));
      if (before === undefined) return;
      const edge = INT64_MAX - (before.totalBalance > 0n ? before.totalBalance : 0n);
      const id = ctx.id('max');
      const created = ctx.expectOk(await ctx.create(id, edge));
      if (created === undefined) return;
      try {
        ctx.expectEqual('balance', created.balance, edge);
        ctx.expectEqual('balance', (await ctx.current(id)).balance, edge);
        ctx.expectError(await ctx.update(id, 1n, ctx.id('over')), 'OUT_OF_RANGE', /./);
        const other = ctx.id('other');
        const second = await ctx.create(other, 1n);
        if (second.ok) {
          ctx.expectError(await ctx.transfer(other, id, 1n, ctx.id('over-t')), 'OUT_OF_RANGE', /./);
        }
        await ctx.expectUnchanged(id, edge, 0n, 'the refused overflow');
      } finally {
        ctx.expectOk(await ctx.update(id, -edge, ctx.id('give-back')));
      }
    },
  },
];
