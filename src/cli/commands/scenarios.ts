import type { Command } from 'commander';
import { withExamples } from '../help-examples.js';
import { printJson, printLine } from '../output.js';

export function registerScenarios(program: Command): void {
  const command = program
    .command('scenarios')
    .description('list the built-in scenarios (run one with `ledgerctl stress <name>`)')
    .option('--json', 'print JSON instead of a table', false);
  withExamples(command, [
    'ledgerctl scenarios',
    'ledgerctl stress $(ledgerctl scenarios --json | jq -r ".[0].name")',
  ]).action(async (options: { json: boolean }) => {
    const { listBuiltinScenarios } = await import('../../harness/builtin-scenarios.js');
    const list = await listBuiltinScenarios();
    if (options.json) {
      printJson(list.map(({ name, ci, summary }) => ({ name, ci, description: summary })));
      return;
    }
    // One line per scenario, so it reads in a terminal and greps in a script.
    const width = Math.max(...list.map((s) => s.name.length));
    for (const s of list) printLine(`${s.name.padEnd(width)}  ${s.ci ? 'ci ' : '   '}  ${s.summary}`);
  });
}
