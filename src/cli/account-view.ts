import type { Account } from '../client/ledger-client.js';
import { escapeControls, newTable } from './output.js';

/** Field names as in ledger.v1 Account; 64-bit integers stay bigint until printJson. */
export function accountJson(account: Account) {
  return { account_id: account.accountId, balance: account.balance, version: account.version };
}

/** Balances are integer minor units, right-aligned so digits line up. */
export function accountsTable(accounts: readonly Account[]) {
  const table = newTable(['account', 'balance', 'version'], ['left', 'right', 'right']);
  for (const a of accounts)
    table.push([escapeControls(a.accountId), a.balance.toString(), a.version.toString()]);
  return table;
}
