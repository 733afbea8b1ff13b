import { randomUUID } from 'node:crypto';
import type { Command } from 'commander';
import type { Account } from '../client/ledger-client.js';
import { validateTransactionId } from '../domain/validate.js';
import { accountJson, accountsTable } from './account-view.js';
import { checkLocally } from './check-locally.js';
import { printJson, printLine, recordTable } from './output.js';

export interface TxidOptions {
  txid?: string;
}

/** `--txid`: the idempotency key of a write; sending the same one again replays instead of repeating. */
export function addTxidOption(command: Command): Command {
  return command.option(
    '--txid <id>',
    'transaction id (idempotency key); generated and printed when absent. Send the same id again to retry safely',
  );
}

/** The caller's id, or a fresh UUID: a write without an id could never be retried safely. */
export function resolveTxid(options: TxidOptions): { txid: string; generated: boolean } {
  if (options.txid !== undefined) {
    const txid = options.txid;
    checkLocally(() => validateTransactionId(txid));
    return { txid, generated: false };
  }
  return { txid: randomUUID(), generated: true };
}

export interface WriteResult {
  txid: string;
  generated: boolean;
  replayed: boolean;
  accounts: readonly Account[];
}

/**
 * What a write did: its transaction id (marked when generated, so it can be reused for a retry),
 * whether the server replayed an earlier outcome instead of executing (`ledger-replayed: true`),
 * and the touched accounts right after it.
 */
export function printWriteResult(
  result: WriteResult,
  json: boolean,
  accountsKey: 'account' | 'from-to',
): void {
  if (json) {
    const accounts =
      accountsKey === 'account'
        ? { account: accountJson(result.accounts[0]!) }
        : { from: accountJson(result.accounts[0]!), to: accountJson(result.accounts[1]!) };
    printJson({
      transaction_id: result.txid,
      transaction_id_generated: result.generated,
      replayed: result.replayed,
      ...accounts,
    });
    return;
  }
  printLine(
    recordTable([
      ['transaction id', result.generated ? `${result.txid} (generated)` : result.txid],
      [
        'replayed',
        result.replayed ? 'yes: the recorded outcome of an earlier request; nothing changed now' : 'no',
      ],
    ]),
  );
  printLine(accountsTable(result.accounts).toString());
}
