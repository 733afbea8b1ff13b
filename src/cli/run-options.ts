import type { Command } from 'commander';
import { addClientSecurityOptions, type ClientSecurityFlags } from './client-credentials.js';
import { generatorThreadsArg, seedArg } from './option-parsers.js';
import { type CompareFlags, regressionArg } from './run-comparison.js';
import { parseTargets, TARGET_FORMS } from './target.js';

/** The flags every harness run shares (`stress`, `gate`, `load`), so they read and behave alike. */
export interface RunFlags extends ClientSecurityFlags, CompareFlags {
  target?: string[];
  seed?: number;
  json?: string;
  junit?: string;
  hdrLog?: string;
  html?: string;
  status: boolean;
  verbose?: boolean;
  generatorThreads?: number;
}

export function addRunOptions(
  command: Command,
  what: { servers: string; json: string; junit: string },
): Command {
  return addClientSecurityOptions(command)
    .option(
      '--target <host:port,...>',
      `run against running servers instead of ${what.servers} (each ${TARGET_FORMS})`,
      parseTargets,
    )
    .option('--seed <n>', 'seed for every random choice (printed in the report)', seedArg)
    .option('--json <file>', `write ${what.json} as JSON ("-": stdout, the report then goes to stderr)`)
    .option('--junit <file>', `write JUnit XML (${what.junit}; "-": stdout)`)
    .option(
      '--hdr-log <file>',
      'write every op\'s full latency distribution as an HdrHistogram log ("-": stdout)',
    )
    .option(
      '--html <file>',
      'write a self-contained HTML report with plots: latency by percentile, latency and throughput over time ("-": stdout)',
    )
    .option(
      '--generator-threads <n>',
      "split the load over n generator threads (1-16; overrides the scenario's generator.threads)",
      generatorThreadsArg,
    )
    .option(
      '--compare <baseline.json>',
      'compare each op with an earlier --json report; a regression exits 3',
    )
    .option(
      '--regression <rule>',
      "with --compare: the change that counts as a regression, e.g. 'p99(*) +10%', 'rate(*) -5%' (repeatable; those two by default)",
      regressionArg,
    )
    .option('--no-status', 'no live status line on stderr')
    .option('--verbose', 'print all evidence lines of failed invariants');
}
