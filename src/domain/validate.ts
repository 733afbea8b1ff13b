import { Errors } from './errors.js';
import { LIMITS } from './limits.js';
import type { CreateCommand, TransferCommand, UpdateCommand } from './types.js';

/**
 * Request validation in the contract's order: the first failing check wins. Every check here
 * answers INVALID_ARGUMENT and runs before the transaction id is claimed, so a refused request
 * leaves the id unused.
 */
export interface CreateInput {
  accountId: string;
  initialBalance: bigint;
  transactionId?: string | undefined;
}
export interface UpdateInput {
  accountId: string;
  delta: bigint;
  transactionId: string;
}
export interface TransferInput {
  fromId: string;
  toId: string;
  amount: bigint;
  transactionId: string;
}

export function checkId(field: string, value: string, maxBytes: number): void {
  if (value === '') throw Errors.required(field);
  // A UTF-16 unit is at most 3 UTF-8 bytes: only long-ish ids pay for the exact byte count.
  const tooLong =
    value.length > maxBytes || (value.length * 3 > maxBytes && Buffer.byteLength(value) > maxBytes);
  if (tooLong) throw Errors.tooLong(field, maxBytes);
}

const checkAccountId = (field: string, value: string) => checkId(field, value, LIMITS.maxAccountIdBytes);
const checkTxid = (value: string) => checkId('transaction_id', value, LIMITS.maxTransactionIdBytes);

export function validateCreate(input: CreateInput): CreateCommand {
  checkAccountId('account_id', input.accountId);
  const txid = input.transactionId === '' ? undefined : input.transactionId;
  if (txid !== undefined) checkTxid(txid);
  if (input.initialBalance < 0n) throw Errors.negativeInitialBalance();
  return {
    op: 'create',
    accountId: input.accountId,
    initialBalance: input.initialBalance,
    transactionId: txid,
  };
}

export function validateUpdate(input: UpdateInput): UpdateCommand {
  checkAccountId('account_id', input.accountId);
  checkTxid(input.transactionId);
  return { op: 'update', accountId: input.accountId, delta: input.delta, transactionId: input.transactionId };
}

export function validateTransfer(input: TransferInput): TransferCommand {
  checkAccountId('from_account_id', input.fromId);
  checkAccountId('to_account_id', input.toId);
  checkTxid(input.transactionId);
  if (input.fromId === input.toId) throw Errors.sameAccount();
  if (input.amount <= 0n) throw Errors.nonPositiveAmount();
  return {
    op: 'transfer',
    fromId: input.fromId,
    toId: input.toId,
    amount: input.amount,
    transactionId: input.transactionId,
  };
}

export function validateAccountId(accountId: string): void {
  checkAccountId('account_id', accountId);
}

export function validateTransactionId(transactionId: string): void {
  checkTxid(transactionId);
}
