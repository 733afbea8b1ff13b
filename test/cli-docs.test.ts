import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/exit-codes.js';
import { runCli } from './cli-run.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The body rows of the first markdown table after `heading`, as trimmed cells. */
function tableAfter(heading: string): string[][] {
  const lines = readme.slice(readme.indexOf(heading)).split('\n');
  const first = lines.findIndex((line) => line.startsWith('|'));
  const end = lines.findIndex((line, i) => i > first && !line.startsWith('|'));
  return lines.slice(first + 2, end).map((line) =>
    line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim()),
  );
}

describe('README', () => {
  it('documents exactly the exit codes of exit-codes.ts', () => {
    const rows = tableAfter('### Exit codes');
    expect(rows.map((cells) => Number(cells[0])).sort((a, b) => a - b)).toEqual(
      Object.values(EXIT).sort((a, b) => a - b),
    );
  });

  it.each([
    'serve',
    'query-log',
    'balance',
    'snapshot',
    'create-account',
    'update',
    'transfer',
    'stress',
    'load',
    'scenarios',
    'gate',
    'migrate',
    'verify',
    'backup',
  ])('mentions every flag of %s', async (command) => {
    const help = await runCli([command, '--help']);
    expect(help.code).toBe(0);
    const flags = new Set(help.stdout.match(/--[a-z][a-z-]*/g));
    flags.delete('--help');
    const undocumented = [...flags].filter((flag) => !readme.includes(`\`${flag}`));
    expect(undocumented).toEqual([]);
  });
});
