import type { Command } from 'commander';

/** Ends a command's `--help` with a few commands to copy: what people look for first. */
export function withExamples(command: Command, examples: readonly string[]): Command {
  return command.addHelpText('after', `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`);
}
