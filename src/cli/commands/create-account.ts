import { Argument, type Command, Option } from 'commander';
import { validateCreate } from '../../domain/validate.js';
import { checkLocally } from '../check-locally.js';
import { withExamples } from '../help-examples.js';
import { int64Arg } from '../option-parsers.js';
import { addConnectionOptions, type ConnectionOptions, withLedger } from '../target.js';
import { addTxidOption, printWriteResult, resolveTxid, type TxidOptions } from '../write-result.js';

interface CreateOptions extends ConnectionOptions, TxidOptions {
  initial: bigint;
}

export function registerCreateAccount(program: Command): void {
  const command = program
    .command('create-account')
    .description('create an account (version 0) with an initial balance in integer minor units')
    .addArgument(new Argument('<account-id>', 'the new account'))
    .addOption(
      new Option('--initial <amount>', 'initial balance, integer minor units (>= 0)')
        .default(0n, '0')
        .argParser(int64Arg),
    );
  withExamples(addTxidOption(addConnectionOptions(command)), [
    'ledgerctl create-account alice --initial 1000',
    'ledgerctl create-account bob --txid open-bob --json',
  ]).action(async (accountId: string, options: CreateOptions) => {
    const { txid, generated } = resolveTxid(options);
    checkLocally(() => validateCreate({ accountId, initialBalance: options.initial, transactionId: txid }));
    const reply = await withLedger(
      options,
      (client) => client.createAccount(accountId, options.initial, txid),
      txid,
    );
    printWriteResult(
      { txid, generated, replayed: reply.replayed, accounts: [reply.value] },
      options.json,
      'account',
    );
  });
}
