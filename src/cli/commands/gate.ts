import type { Command } from 'commander';
import { withExamples } from '../help-examples.js';
import { addRunOptions } from '../run-options.js';
import type { GateFlags } from './gate-action.js';

export function registerGate(program: Command): void {
  const command = addRunOptions(
    program
      .command('gate')
      .description(
        'run every CI scenario of directories (and named scenario files) and exit with the worst result',
      )
      .argument(
        '[paths...]',
        'scenario directories (their ci: true files) and scenario files (run as named)',
        ['scenarios'],
      ),
    { servers: 'in-process ones', json: 'every result as a JSON array', junit: 'one testsuite per scenario' },
  )
    .option('--all', 'also run the scenarios marked ci: false in the directories (long)')
    .option('--fail-fast', 'stop at the first scenario that fails an invariant (exit 1)')
    .addHelpText(
      'after',
      '\nExit codes: 1 if any invariant failed, else 2 if any scenario was invalid or a target unreachable, else 3 if any threshold failed, else 0.',
    );
  withExamples(command, [
    'ledgerctl gate',
    'ledgerctl gate scenarios/ nightly/soak.yaml --fail-fast --junit gate.xml',
    'ledgerctl gate --target 127.0.0.1:50051 --json gate.json',
  ]).action(async (paths: string[], flags: GateFlags) =>
    (await import('./gate-action.js')).gate(paths, flags),
  );
}
