import type { Command } from 'commander';
import { addClientSecurityOptions, type ClientSecurityFlags } from '../client-credentials.js';
import { withExamples } from '../help-examples.js';
import { positiveIntArg, timerDurationArg } from '../option-parsers.js';
import { parseTarget, TARGET_FORMS } from '../target.js';

export interface CalibrateFlags extends ClientSecurityFlags {
  rate: number;
  duration?: number;
  connections?: number;
  json?: boolean;
  target?: string;
}

export function registerCalibrate(program: Command): void {
  const command = program
    .command('calibrate')
    .description(
      "measure the load generator's own latency floor: open loop against a null responder (no ledger work)",
    )
    .option('--rate <calls/s>', 'open-loop rate to measure at', positiveIntArg, 500)
    .option('--duration <time>', 'measured span after a 500ms warm-up (default 2s)', timerDurationArg)
    .option('--connections <n>', 'HTTP/2 connections (default 4, as stress)', positiveIntArg)
    .option('--json', 'print the floor as JSON')
    .option(
      '--target <host:port>',
      `measure against a responder already running there (e.g. one that does no work; ${TARGET_FORMS})`,
      parseTarget,
    );
  addClientSecurityOptions(command).addHelpText(
    'after',
    '\nEvery stress report states this floor at its own rate; a latency threshold missed while under 2x the floor is reported as "cannot judge" (one that is met passes: the instrument only adds latency).',
  );
  withExamples(command, [
    'ledgerctl calibrate',
    'ledgerctl calibrate --rate 2000 --duration 5s --json',
    'ledgerctl calibrate --target ledger.internal:50051 --tls-ca ca.pem --token-file token',
  ]).action(async (flags: CalibrateFlags) => (await import('./calibrate-action.js')).calibrateCommand(flags));
}
