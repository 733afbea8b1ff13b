import type { Command } from 'commander';
import { withExamples } from '../help-examples.js';
import { addRunOptions } from '../run-options.js';
import type { StressFlags } from './stress-action.js';

export function registerStress(program: Command): void {
  const command = addRunOptions(
    program
      .command('stress')
      .description('run a stress scenario and check the ledger invariants and thresholds')
      .argument(
        '<scenario>',
        'scenario file (YAML), or the name of a built-in one (`ledgerctl scenarios` lists them)',
      ),
    {
      servers: 'an in-process one',
      json: 'the full result',
      junit: 'one testcase per invariant and threshold',
    },
  )
    .option('--history <file>', 'write every call as JSONL (invoke, then ok/fail/info)')
    .option(
      '--set <key.path=value>',
      'override one scenario value before validation, e.g. phases.0.groups.0.load.rate_per_s=800 (repeatable)',
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .addHelpText(
      'after',
      '\nExit codes: 0 all passed, 1 an invariant failed, 3 a threshold failed, 2 invalid input or unreachable target.',
    );
  withExamples(command, [
    'ledgerctl stress deadlock-storm                     # a built-in scenario, by name',
    'ledgerctl stress my.yaml --set phases.0.groups.0.duration=2m --seed 42 --junit stress.xml',
    'ledgerctl stress scenarios/transfer-mesh.yaml --target 127.0.0.1:50051 --json - | jq .exitCode',
  ])
    // The harness loads only when this command runs: `serve` and the query verbs start faster.
    .action(async (file: string, flags: StressFlags) =>
      (await import('./stress-action.js')).stress(file, flags),
    );
}
