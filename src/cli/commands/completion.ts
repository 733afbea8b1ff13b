import { Argument, type Command } from 'commander';
import { bashCompletion, describeCommands, zshCompletion } from '../completion-script.js';
import { withExamples } from '../help-examples.js';

const SHELLS = { bash: bashCompletion, zsh: zshCompletion } as const;

export function registerCompletion(program: Command): void {
  const command = program
    .command('completion')
    .description('print a shell completion script for bash or zsh')
    .addArgument(new Argument('<shell>', 'the shell').choices(Object.keys(SHELLS)));
  withExamples(command, [
    'source <(ledgerctl completion bash)                 # this shell; add it to ~/.bashrc to keep it',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: zsh syntax, printed as is
    'ledgerctl completion zsh > "${fpath[1]}/_ledgerctl"   # zsh, then restart the shell',
  ]).action((shell: keyof typeof SHELLS) => {
    process.stdout.write(SHELLS[shell](describeCommands(program)));
  });
}
