import type { Command } from 'commander';
import { parseGeneratorThreads, parseSeed, parseTargets } from '../../harness/stress-options.js';
import { addClientSecurityOptions } from '../client-credentials.js';
import type { StressFlags } from './stress-action.js';

export function registerStress(program: Command): void {
  addClientSecurityOptions(program.command('stress'))
    .description('run a stress scenario and check the ledger invariants and thresholds')
    .argument('<scenario>', 'scenario file (YAML), e.g. scenarios/lost-update.yaml')
    .option(
      '--target <host:port,...>',
      'run against running servers instead of an in-process one',
      parseTargets,
    )
    .option('--seed <n>', 'seed for every random choice (printed in the report)', parseSeed)
    .option('--json <file>', 'write the full result as JSON')
    .option('--junit <file>', 'write JUnit XML (one testcase per invariant and threshold)')
    .option('--history <file>', 'write every call as JSONL (invoke, then ok/fail/info)')
    .option('--no-status', 'no live status line on stderr')
    .option(
      '--generator-threads <n>',
      "split the load over n generator threads (1-16; overrides the scenario's generator.threads)",
      parseGeneratorThreads,
    )
    .option('--verbose', 'print all evidence lines of failed invariants')
    .addHelpText(
      'after',
      '\nExit codes: 0 all passed, 1 an invariant failed, 3 a threshold failed, 2 invalid input or unreachable target.',
    )
    // The harness loads only when this command runs: `serve` and the query verbs start faster.
    .action(async (file: string, flags: StressFlags) =>
      (await import('./stress-action.js')).stress(file, flags),
    );
}
