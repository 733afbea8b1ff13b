import { Argument, type Command } from 'commander';
import { validateUpdate } from '../../domain/validate.js';
import { checkLocally } from '../check-locally.js';
import { withExamples } from '../help-examples.js';
import { int64Arg } from '../option-parsers.js';
import { addConnectionOptions, type ConnectionOptions, withLedger } from '../target.js';
import { addTxidOption, printWriteResult, resolveTxid, type TxidOptions } from '../write-result.js';

export function registerUpdate(program: Command): void {
  const command = program
    .command('update')
    .description('deposit (positive delta) to or withdraw (negative delta) from one account')
    .addArgument(new Argument('<account-id>', 'the account to change'))
    .addArgument(
      new Argument('<delta>', 'signed change in integer minor units, e.g. 500 or -200').argParser(int64Arg),
    );
  withExamples(addTxidOption(addConnectionOptions(command)), [
    'ledgerctl update alice 500 --txid deposit-1      # deposit',
    'ledgerctl update alice -200                      # withdraw; the generated id is printed',
  ]).action(async (accountId: string, delta: bigint, options: ConnectionOptions & TxidOptions) => {
    const { txid, generated } = resolveTxid(options);
    checkLocally(() => validateUpdate({ accountId, delta, transactionId: txid }));
    const reply = await withLedger(options, (client) => client.updateBalance(accountId, delta, txid), txid);
    printWriteResult(
      { txid, generated, replayed: reply.replayed, accounts: [reply.value.account] },
      options.json,
      'account',
    );
  });
}
