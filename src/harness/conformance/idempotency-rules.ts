import type { ConformanceRule } from './conformance-rule.js';
import { type Outcome, show, showOutcome } from './rule-context.js';

const conflict = (txid: string) => `Transaction ${txid} already exists with different parameters`;

const sameOutcome = (a: Outcome<unknown>, b: Outcome<unknown>): boolean =>
  a.ok === b.ok &&
  (a.ok && b.ok
    ? show(a.value) === show(b.value)
    : !a.ok && !b.ok && a.code === b.code && a.message === b.message);

/** Transaction ids: one outcome per id, replayed with metadata, conflicts refused, versions counted. */
export const idempotencyRules: ConformanceRule[] = [
  {
    name: 'version-increments',
    summary: 'version is 0 at creation and +1 per committed change; answers carry the state right after',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 100n);
      const b = await ctx.setupAccount('b', 5n);
      const u = ctx.expectOk(await ctx.update(a, 7n, ctx.id('u')));
      if (u) ctx.expectEqual('account', u.account, { accountId: a, balance: 107n, version: 1n });
      const t = ctx.expectOk(await ctx.transfer(a, b, 50n, ctx.id('t')));
      if (t) {
        ctx.expectEqual('from', t.from, { accountId: a, balance: 57n, version: 2n });
        ctx.expectEqual('to', t.to, { accountId: b, balance: 55n, version: 1n });
        ctx.expectEqual('transaction_id', t.transactionId, ctx.id('t'));
      }
      const z = ctx.expectOk(await ctx.update(b, 0n, ctx.id('zero')));
      if (z)
        ctx.expectEqual('account (a zero delta still commits a change)', z.account, {
          accountId: b,
          balance: 55n,
          version: 2n,
        });
      ctx.expectEqual('account', await ctx.current(a), { accountId: a, balance: 57n, version: 2n });
    },
  },
  {
    name: 'replay-success',
    summary:
      'a repeated id with the same parameters replays the recorded body with ledger-replayed: true, changing nothing',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 100n);
      const b = await ctx.setupAccount('b', 0n);
      const calls: (() => Promise<Outcome<unknown>>)[] = [
        () => ctx.update(a, 10n, ctx.id('u')),
        () => ctx.transfer(a, b, 30n, ctx.id('t')),
        () => ctx.create(ctx.id('c'), 42n, ctx.id('c-tx')),
      ];
      for (const [i, call] of calls.entries()) {
        const first = await call();
        ctx.expectOk(first);
        ctx.expectReplayed(first, false);
        // Another write in between: a replay must still answer the state right after the original.
        ctx.expectOk(await ctx.update(a, 1n, ctx.id(`between-${i}`)));
        const again = await call();
        ctx.expectReplayed(again, true);
        if (!sameOutcome(first, again))
          ctx.violation(ctx.request, showOutcome(again), `the original answer ${showOutcome(first)}`);
      }
      // 100 +10 -30 +1 +1 +1: each replay changed nothing.
      ctx.expectEqual('account', await ctx.current(a), { accountId: a, balance: 83n, version: 5n });
      ctx.expectEqual('account', await ctx.current(b), { accountId: b, balance: 30n, version: 1n });
    },
  },
  {
    name: 'replay-error',
    summary:
      'a recorded failure (FAILED_PRECONDITION, NOT_FOUND) replays with the same code and message even after the state changed',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 10n);
      const overdraft = () => ctx.update(a, -20n, ctx.id('over'));
      const first = await overdraft();
      ctx.expectError(first, 'FAILED_PRECONDITION', 'Insufficient balance: current=10, delta=-20');
      ctx.expectReplayed(first, false);
      ctx.expectOk(await ctx.update(a, 100n, ctx.id('deposit')));
      const again = await overdraft();
      ctx.expectError(again, 'FAILED_PRECONDITION', 'Insufficient balance: current=10, delta=-20');
      ctx.expectReplayed(again, true);
      const late = ctx.id('late');
      const missing = () => ctx.update(late, 5n, ctx.id('missing'));
      const nf = await missing();
      ctx.expectError(nf, 'NOT_FOUND', `Account ${late} not found`);
      ctx.expectReplayed(nf, false);
      ctx.expectOk(await ctx.create(late, 0n));
      const nfAgain = await missing();
      ctx.expectError(nfAgain, 'NOT_FOUND', `Account ${late} not found`);
      ctx.expectReplayed(nfAgain, true);
      ctx.expectEqual('account', await ctx.current(late), { accountId: late, balance: 0n, version: 0n });
      ctx.expectEqual('account', await ctx.current(a), { accountId: a, balance: 110n, version: 1n });
    },
  },
  {
    name: 'reuse-different-parameters',
    summary:
      'the same id with another amount or account: ALREADY_EXISTS "Transaction X already exists with different parameters"',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 100n);
      const b = await ctx.setupAccount('b', 100n);
      const tx = ctx.id('tx');
      ctx.expectOk(await ctx.update(a, 5n, tx));
      ctx.expectError(await ctx.update(a, 6n, tx), 'ALREADY_EXISTS', conflict(tx));
      ctx.expectError(await ctx.update(b, 5n, tx), 'ALREADY_EXISTS', conflict(tx));
      const ttx = ctx.id('ttx');
      ctx.expectOk(await ctx.transfer(a, b, 5n, ttx));
      ctx.expectError(await ctx.transfer(b, a, 5n, ttx), 'ALREADY_EXISTS', conflict(ttx));
      const failed = ctx.id('failed');
      ctx.expectError(await ctx.update(a, -1000n, failed), 'FAILED_PRECONDITION', /^Insufficient balance/);
      ctx.expectError(await ctx.update(a, -1n, failed), 'ALREADY_EXISTS', conflict(failed));
      ctx.expectEqual('account', await ctx.current(a), { accountId: a, balance: 100n, version: 2n });
      ctx.expectEqual('account', await ctx.current(b), { accountId: b, balance: 105n, version: 1n });
    },
  },
  {
    name: 'reuse-across-methods',
    summary: 'an id used by one method and sent to another: ALREADY_EXISTS with the conflict message',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 100n);
      const b = await ctx.setupAccount('b', 0n);
      const tx = ctx.id('tx');
      ctx.expectOk(await ctx.update(a, 5n, tx));
      ctx.expectError(await ctx.transfer(a, b, 5n, tx), 'ALREADY_EXISTS', conflict(tx));
      ctx.expectError(await ctx.create(ctx.id('c'), 5n, tx), 'ALREADY_EXISTS', conflict(tx));
      const ctx2 = ctx.id('ctx');
      ctx.expectOk(await ctx.create(ctx.id('d'), 1n, ctx2));
      ctx.expectError(await ctx.update(a, 1n, ctx2), 'ALREADY_EXISTS', conflict(ctx2));
      ctx.expectError(await ctx.get(ctx.id('c')), 'NOT_FOUND', `Account ${ctx.id('c')} not found`);
      ctx.expectEqual('account', await ctx.current(a), { accountId: a, balance: 105n, version: 1n });
      ctx.expectEqual('account', await ctx.current(b), { accountId: b, balance: 0n, version: 0n });
    },
  },
  {
    name: 'invalid-argument-not-recorded',
    summary: 'a request refused with INVALID_ARGUMENT leaves its transaction id unused',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 100n);
      const b = await ctx.setupAccount('b', 0n);
      const t1 = ctx.id('t1');
      ctx.expectError(
        await ctx.transfer(a, a, 5n, t1),
        'INVALID_ARGUMENT',
        'Cannot transfer to the same account',
      );
      const ok = await ctx.transfer(a, b, 5n, t1);
      ctx.expectOk(ok);
      ctx.expectReplayed(ok, false);
      const t2 = ctx.id('t2');
      ctx.expectError(await ctx.update('', 5n, t2), 'INVALID_ARGUMENT', 'account_id is required');
      const ok2 = await ctx.update(a, 5n, t2);
      ctx.expectOk(ok2);
      ctx.expectReplayed(ok2, false);
      const t3 = ctx.id('t3');
      ctx.expectError(
        await ctx.create(ctx.id('c'), -1n, t3),
        'INVALID_ARGUMENT',
        'Initial balance cannot be negative',
      );
      ctx.expectOk(await ctx.create(ctx.id('c'), 1n, t3));
    },
  },
  {
    name: 'concurrent-duplicates',
    summary: '10 concurrent requests with one id: exactly 1 executes, 9 replay the same body',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 1000n);
      const tx = ctx.id('tx');
      const outcomes = await Promise.all(Array.from({ length: 10 }, () => ctx.update(a, 10n, tx)));
      const request = `10 concurrent ${ctx.request}`;
      const executed = outcomes.filter((o) => o.ok && !o.replayed).length;
      const replayed = outcomes.filter((o) => o.ok && o.replayed).length;
      if (executed !== 1 || replayed !== 9) {
        ctx.violation(
          request,
          `${executed} executed, ${replayed} replayed: ${outcomes.map(showOutcome).join(' | ')}`,
          '1 executed, 9 replayed',
        );
      }
      const bodies = new Set(outcomes.map(showOutcome).map((s) => s.replace(' [ledger-replayed: true]', '')));
      if (bodies.size !== 1) ctx.violation(request, [...bodies].join(' | '), 'one identical body');
      ctx.expectEqual('account', await ctx.current(a), { accountId: a, balance: 1010n, version: 1n });
    },
  },
];
