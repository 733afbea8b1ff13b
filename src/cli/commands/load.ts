import type { Command } from 'commander';
import { withExamples } from '../help-examples.js';
import { nonNegativeArg, positiveIntArg } from '../option-parsers.js';
import { addRunOptions } from '../run-options.js';
import type { LoadFlags } from './load-action.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerLoad(program: Command): void {
  const command = addRunOptions(
    program
      .command('load')
      .description(
        'run load built from flags (no scenario file): the same invariants, report, exit codes, JSON and JUnit as stress',
      ),
    {
      servers: 'an in-process one',
      json: 'the full result',
      junit: 'one testcase per invariant and threshold',
    },
  )
    .option(
      '--op <op>',
      'one operation for every call: create, get, update, transfer, snapshot, query (default transfer)',
    )
    .option('--mix <op=weight,...>', 'weighted operations, e.g. transfer=3,get=1')
    .option('--rate <calls/s>', 'open loop: calls started per second, whatever the answers', positiveIntArg)
    .option(
      '--callers <n>',
      'closed loop: callers each sending the next call on an answer (default 8)',
      positiveIntArg,
    )
    .option('--arrivals <kind>', 'open loop: uniform or poisson')
    // Kept as text: the scenario schema parses and checks it, so the messages match a file's.
    .option('--duration <duration>', 'how long the load runs, e.g. 30s (default 10s)')
    .option(
      '--stage <duration:rate>',
      'open loop, a rate ramp: the rate moves linearly to rate over duration, e.g. 60s:5000 (repeatable, in order; the run lasts their sum)',
      collect,
    )
    .option(
      '--start-rate <calls/s>',
      'with --stage: the rate the ramp starts from (default 0)',
      nonNegativeArg,
    )
    .option('--warmup <duration>', 'first part of the load left out of the latency figures')
    .option('--accounts <n>', 'accounts created before the load', positiveIntArg, 100)
    .option('--balance <amount>', 'initial balance of each account, integer minor units', '1000000')
    .option('--amount <min..max>', 'transfer amounts (and update deltas), e.g. 1..100')
    .option(
      '--threshold <expr>',
      "a pass/fail threshold, e.g. 'p99(transfer) < 20ms' (repeatable)",
      collect,
      [],
    )
    .option('--allow-error <code>', 'a gRPC status the run may see without failing (repeatable)', collect, [])
    .option('--history <file>', 'write every call as JSONL (invoke, then ok/fail/info)')
    .addHelpText(
      'after',
      '\nExit codes: 0 all passed, 1 an invariant failed, 3 a threshold failed, 2 invalid input or unreachable target.',
    );
  withExamples(command, [
    "ledgerctl load --op transfer --callers 64 --duration 30s --threshold 'p99(transfer) < 20ms'",
    "ledgerctl load --mix transfer=3,get=1 --rate 500 --duration 1m --accounts 1000 --threshold 'rate(*) >= 490/s'",
    'ledgerctl load --mix transfer=3,get=1 --start-rate 100 --stage 30s:2000 --stage 30s:2000 --stage 10s:0 --html ramp.html',
  ]).action(async (flags: LoadFlags) => (await import('./load-action.js')).load(flags));
}
