import type { ConformanceRule } from './conformance-rule.js';

/** True when `a` sorts strictly before `b` for every sane notion of id order (both plain ASCII). */
const asciiBefore = (a: string, b: string): boolean | undefined =>
  /^[\x20-\x7e]*$/.test(a) && /^[\x20-\x7e]*$/.test(b) ? a < b : undefined;

export const snapshotRules: ConformanceRule[] = [
  {
    name: 'snapshot-ordering',
    summary:
      'GetSnapshot lists accounts sorted by id, only when asked, with total == sum and count == length',
    async run(ctx) {
      const ids = [
        await ctx.setupAccount('z', 3n),
        await ctx.setupAccount('a', 1n),
        await ctx.setupAccount('m', 2n),
      ];
      const full = ctx.expectOk(await ctx.snapshot(true));
      if (full) {
        let sum = 0n;
        for (const a of full.accounts) sum += a.balance;
        if (sum !== full.totalBalance || full.accountCount !== BigInt(full.accounts.length)) {
          ctx.violation(
            ctx.request,
            `total_balance ${full.totalBalance}, account_count ${full.accountCount}, ${full.accounts.length} accounts summing to ${sum}`,
            'total_balance == sum of accounts and account_count == number of accounts',
          );
        }
        for (let i = 1; i < full.accounts.length; i++) {
          const [x, y] = [full.accounts[i - 1]!.accountId, full.accounts[i]!.accountId];
          if (asciiBefore(x, y) === false) {
            ctx.violation(
              ctx.request,
              `account ${JSON.stringify(x)} listed before ${JSON.stringify(y)}`,
              'accounts sorted by id',
            );
            break;
          }
        }
        const mine = full.accounts.filter((a) => ids.includes(a.accountId));
        ctx.expectEqual(
          "this rule's accounts, in listed order",
          mine,
          [...ids].sort().map((id) => ({
            accountId: id,
            balance: id.endsWith('-z') ? 3n : id.endsWith('-a') ? 1n : 2n,
            version: 0n,
          })),
        );
      }
      const bare = ctx.expectOk(await ctx.snapshot(false));
      if (bare) {
        if (bare.accounts.length > 0)
          ctx.violation(
            ctx.request,
            `${bare.accounts.length} accounts`,
            'no accounts unless include_accounts',
          );
        if (bare.accountCount < 3n)
          ctx.violation(ctx.request, `account_count ${bare.accountCount}`, 'account_count >= 3');
      }
    },
  },
];
