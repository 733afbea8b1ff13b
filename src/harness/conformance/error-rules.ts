import type { ConformanceRule } from './conformance-rule.js';

const notFound = (id: string) => `Account ${id} not found`;

/** Status codes and exact messages of the rules table, and the order in which checks apply. */
export const errorRules: ConformanceRule[] = [
  {
    name: 'create-account',
    summary: 'CreateAccount answers the new account at version 0; GetBalance reads it back',
    async run(ctx) {
      const id = ctx.id('a');
      const created = ctx.expectOk(await ctx.create(id, 125n));
      if (created) ctx.expectEqual('account', created, { accountId: id, balance: 125n, version: 0n });
      const read = ctx.expectOk(await ctx.get(id));
      if (read) ctx.expectEqual('account', read, { accountId: id, balance: 125n, version: 0n });
    },
  },
  {
    name: 'required-fields',
    summary: 'empty ids: INVALID_ARGUMENT with the exact "... is required" message on every method',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 10n);
      const tx = ctx.id('tx');
      ctx.expectError(await ctx.create('', 1n), 'INVALID_ARGUMENT', 'account_id is required');
      ctx.expectError(await ctx.get(''), 'INVALID_ARGUMENT', 'account_id is required');
      ctx.expectError(await ctx.update('', 1n, tx), 'INVALID_ARGUMENT', 'account_id is required');
      ctx.expectError(await ctx.update(a, 1n, ''), 'INVALID_ARGUMENT', 'transaction_id is required');
      ctx.expectError(await ctx.transfer('', a, 1n, tx), 'INVALID_ARGUMENT', 'from_account_id is required');
      ctx.expectError(await ctx.transfer(a, '', 1n, tx), 'INVALID_ARGUMENT', 'to_account_id is required');
      ctx.expectError(
        await ctx.transfer(a, ctx.id('b'), 1n, ''),
        'INVALID_ARGUMENT',
        'transaction_id is required',
      );
      await ctx.expectUnchanged(a, 10n, 0n, 'the refused requests');
    },
  },
  {
    name: 'argument-checks',
    summary:
      'negative initial balance, transfer to self, non-positive amount: INVALID_ARGUMENT, exact messages',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 10n);
      const b = await ctx.setupAccount('b', 0n);
      ctx.expectError(
        await ctx.create(ctx.id('neg'), -1n),
        'INVALID_ARGUMENT',
        'Initial balance cannot be negative',
      );
      ctx.expectError(
        await ctx.transfer(a, a, 1n, ctx.id('t1')),
        'INVALID_ARGUMENT',
        'Cannot transfer to the same account',
      );
      ctx.expectError(
        await ctx.transfer(a, b, 0n, ctx.id('t2')),
        'INVALID_ARGUMENT',
        'Transfer amount must be positive',
      );
      ctx.expectError(
        await ctx.transfer(a, b, -5n, ctx.id('t3')),
        'INVALID_ARGUMENT',
        'Transfer amount must be positive',
      );
      ctx.expectError(await ctx.get(ctx.id('neg')), 'NOT_FOUND', `Account ${ctx.id('neg')} not found`);
      await ctx.expectUnchanged(a, 10n, 0n, 'the refused requests');
      await ctx.expectUnchanged(b, 0n, 0n, 'the refused requests');
    },
  },
  {
    name: 'validation-order',
    summary: 'when several checks fail, the first in the contract order wins',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 10n);
      const missing = ctx.id('missing');
      const tx = ctx.id('tx');
      ctx.expectError(await ctx.create('', -5n), 'INVALID_ARGUMENT', 'account_id is required');
      ctx.expectError(await ctx.create(a, -5n), 'INVALID_ARGUMENT', 'Initial balance cannot be negative');
      ctx.expectError(await ctx.update('', -5n, ''), 'INVALID_ARGUMENT', 'account_id is required');
      ctx.expectError(await ctx.update(missing, -5n, ''), 'INVALID_ARGUMENT', 'transaction_id is required');
      ctx.expectError(await ctx.transfer('', '', 0n, ''), 'INVALID_ARGUMENT', 'from_account_id is required');
      ctx.expectError(await ctx.transfer(a, '', 0n, ''), 'INVALID_ARGUMENT', 'to_account_id is required');
      ctx.expectError(await ctx.transfer(a, a, 0n, ''), 'INVALID_ARGUMENT', 'transaction_id is required');
      ctx.expectError(
        await ctx.transfer(a, a, 0n, tx),
        'INVALID_ARGUMENT',
        'Cannot transfer to the same account',
      );
      ctx.expectError(
        await ctx.transfer(missing, a, 0n, tx),
        'INVALID_ARGUMENT',
        'Transfer amount must be positive',
      );
      ctx.expectError(
        await ctx.transfer(missing, ctx.id('missing2'), 5n, ctx.id('tx2')),
        'NOT_FOUND',
        notFound(missing),
      );
      ctx.expectError(await ctx.transfer(a, missing, 50n, ctx.id('tx3')), 'NOT_FOUND', notFound(missing));
    },
  },
  {
    name: 'id-length-limit',
    summary: 'ids are bounded: a 10,000-character account or transaction id gets INVALID_ARGUMENT',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 10n);
      const long = 'x'.repeat(10_000);
      const invalid = /./;
      ctx.expectError(await ctx.create(long, 1n), 'INVALID_ARGUMENT', invalid);
      ctx.expectError(await ctx.get(long), 'INVALID_ARGUMENT', invalid);
      ctx.expectError(await ctx.update(a, 1n, long), 'INVALID_ARGUMENT', invalid);
      ctx.expectError(await ctx.transfer(a, long, 1n, ctx.id('tx')), 'INVALID_ARGUMENT', invalid);
      await ctx.expectUnchanged(a, 10n, 0n, 'the refused requests');
    },
  },
  {
    name: 'not-found',
    summary: 'a missing account (transfer: from first, then to) or transaction: NOT_FOUND, exact messages',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 10n);
      const m1 = ctx.id('m1');
      const m2 = ctx.id('m2');
      ctx.expectError(await ctx.get(m1), 'NOT_FOUND', notFound(m1));
      ctx.expectError(await ctx.update(m1, 5n, ctx.id('t1')), 'NOT_FOUND', notFound(m1));
      ctx.expectError(await ctx.transfer(m1, m2, 5n, ctx.id('t2')), 'NOT_FOUND', notFound(m1));
      ctx.expectError(await ctx.transfer(m1, a, 5n, ctx.id('t3')), 'NOT_FOUND', notFound(m1));
      ctx.expectError(await ctx.transfer(a, m2, 5n, ctx.id('t4')), 'NOT_FOUND', notFound(m2));
      const unknown = ctx.id('never-used');
      ctx.expectError(await ctx.getTransaction(unknown), 'NOT_FOUND', `Transaction ${unknown} not found`);
      await ctx.expectUnchanged(a, 10n, 0n, 'the refused transfers');
    },
  },
  {
    name: 'already-exists',
    summary: 'creating a taken account id: ALREADY_EXISTS, exact message, the account untouched',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 10n);
      ctx.expectError(await ctx.create(a, 99n), 'ALREADY_EXISTS', `Account ${a} already exists`);
      await ctx.expectUnchanged(a, 10n, 0n, 'the refused create');
    },
  },
  {
    name: 'insufficient-balance',
    summary: 'overdrafts: FAILED_PRECONDITION with current balance and delta/amount in the exact message',
    async run(ctx) {
      const a = await ctx.setupAccount('a', 100n);
      const b = await ctx.setupAccount('b', 0n);
      ctx.expectError(
        await ctx.update(a, -101n, ctx.id('t1')),
        'FAILED_PRECONDITION',
        'Insufficient balance: current=100, delta=-101',
      );
      ctx.expectError(
        await ctx.transfer(a, b, 101n, ctx.id('t2')),
        'FAILED_PRECONDITION',
        `Insufficient balance in account ${a}: current=100, required=101`,
      );
      await ctx.expectUnchanged(a, 100n, 0n, 'the refused overdrafts');
      await ctx.expectUnchanged(b, 0n, 0n, 'the refused overdrafts');
      const drained = ctx.expectOk(await ctx.update(a, -100n, ctx.id('t3')));
      if (drained) ctx.expectEqual('account', drained.account, { accountId: a, balance: 0n, version: 1n });
    },
  },
];
