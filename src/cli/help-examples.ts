import type { Command } from 'commander';

/** The help text that ends a command's `--help`: a few commands to copy, what people look for first. */
export function examplesText(examples: readonly string[]): string {
  return `\nExamples:\n${examples.map((e) => `  ${e}`).join('\n')}`;
}

export function withExamples(command: Command, examples: readonly string[]): Command {
  return command.addHelpText('after', examplesText(examples));
}
