import { Errors } from './errors.js';
import { INT64_MAX } from './money.js';
import type { AccountState, CreateCommand, TransferCommand, UpdateCommand, WriteCommand } from './types.js';

/**
 * State transitions: pure functions from the accounts a command touches (undefined = missing)
 * to their states after it, or a LedgerError. Checks run in the contract's order.
 */
export function applyCreate(existing: AccountState | undefined, cmd: CreateCommand): AccountState {
  if (existing !== undefined) throw Errors.accountExists(cmd.accountId);
  return { id: cmd.accountId, balance: cmd.initialBalance, version: 0 };
}

export function applyUpdate(account: AccountState | undefined, cmd: UpdateCommand): AccountState {
  if (account === undefined) throw Errors.accountNotFound(cmd.accountId);
  const balance = account.balance + cmd.delta;
  if (balance < 0n) throw Errors.insufficientBalance(account.balance, cmd.delta);
  if (balance > INT64_MAX) throw Errors.balanceOverflow(account.id, account.balance, cmd.delta);
  return { id: account.id, balance, version: account.version + 1 };
}

export function applyTransfer(
  from: AccountState | undefined,
  to: AccountState | undefined,
  cmd: TransferCommand,
): [AccountState, AccountState] {
  if (from === undefined) throw Errors.accountNotFound(cmd.fromId);
  if (to === undefined) throw Errors.accountNotFound(cmd.toId);
  if (from.balance < cmd.amount) throw Errors.insufficientTransferBalance(from.id, from.balance, cmd.amount);
  const toBalance = to.balance + cmd.amount;
  if (toBalance > INT64_MAX) throw Errors.balanceOverflow(to.id, to.balance, cmd.amount);
  return [
    { id: from.id, balance: from.balance - cmd.amount, version: from.version + 1 },
    { id: to.id, balance: toBalance, version: to.version + 1 },
  ];
}

/** Any write command over the accounts it touches (in touchedIds order). */
export function applyCommand(
  cmd: WriteCommand,
  before: readonly (AccountState | undefined)[],
): AccountState[] {
  switch (cmd.op) {
    case 'create':
      return [applyCreate(before[0], cmd)];
    case 'update':
      return [applyUpdate(before[0], cmd)];
    case 'transfer':
      return applyTransfer(before[0], before[1], cmd);
  }
}

/** How much a command's result raises the sum of all balances (negative when it lowers it). */
export function balanceIncrease(
  before: readonly (AccountState | undefined)[],
  after: readonly AccountState[],
): bigint {
  let increase = 0n;
  for (let i = 0; i < after.length; i++) increase += after[i]!.balance - (before[i]?.balance ?? 0n);
  return increase;
}

/** Account ids a command touches, in command order (the log's and the response's order). */
export function touchedIds(cmd: WriteCommand): string[] {
  return cmd.op === 'transfer' ? [cmd.fromId, cmd.toId] : [cmd.accountId];
}

/** The amount a log entry carries: the initial balance, the delta or the transfer amount. */
export function loggedAmount(cmd: WriteCommand): bigint {
  switch (cmd.op) {
    case 'create':
      return cmd.initialBalance;
    case 'update':
      return cmd.delta;
    case 'transfer':
      return cmd.amount;
  }
}

/**
 * Identity of a request for idempotency: the same transaction id with another fingerprint is a
 * conflict. The method is part of it, so one id cannot be reused across methods.
 */
export function fingerprint(cmd: WriteCommand): string {
  // Length-prefixed ids: unambiguous whatever characters an id holds. join() builds one flat
  // string (~64 B kept per idempotency record) where a template literal keeps its pieces (~190 B).
  const ids = cmd.op === 'transfer' ? [cmd.fromId.length, cmd.fromId + cmd.toId].join(':') : cmd.accountId;
  return [cmd.op, ids, loggedAmount(cmd)].join('|');
}
