import type { Command } from 'commander';
import { parseGeneratorThreads, parseSeed, parseTargets } from '../../harness/stress-options.js';
import type { GateFlags } from './gate-action.js';

export function registerGate(program: Command): void {
  program
    .command('gate')
    .description('run every CI scenario in a directory and exit with the worst result')
    .argument('[dir]', 'directory of scenario files', 'scenarios')
    .option(
      '--target <host:port,...>',
      'run against running servers instead of in-process ones',
      parseTargets,
    )
    .option('--seed <n>', "seed for every scenario (default: each scenario's own, else random)", parseSeed)
    .option('--json <file>', 'write every result as a JSON array')
    .option('--junit <file>', 'write JUnit XML (one testsuite per scenario)')
    .option('--all', 'also run the scenarios marked ci: false (long)')
    .option(
      '--generator-threads <n>',
      "split the load over n generator threads (1-16; overrides the scenario's generator.threads)",
      parseGeneratorThreads,
    )
    .option('--no-status', 'no live status line on stderr')
    .option('--verbose', "print each scenario's full report")
    .addHelpText(
      'after',
      '\nExit codes: 1 if any invariant failed, else 2 if any scenario was invalid or a target unreachable, else 3 if any threshold failed, else 0.',
    )
    .action(async (dir: string, flags: GateFlags) => (await import('./gate-action.js')).gate(dir, flags));
}
