import type { z } from 'zod';
import { ScenarioError } from './load-scenario.js';
import { MIX_OP_KINDS } from './op-kinds.js';
import { type Scenario, ScenarioSchema } from './scenario-schema.js';

/** `ledgerctl load` flags: an experiment without a scenario file. */
export interface FlagScenarioOptions {
  op?: string;
  /** `transfer=3,get=1`. */
  mix?: string;
  rate?: number;
  callers?: number;
  arrivals?: string;
  /** Default 10s; a ramp (`stages`) lasts as long as its stages instead. */
  duration?: string;
  /** `--stage 60s:5000` (repeatable): a rate ramp, open loop. */
  stage?: string[];
  startRate?: number;
  warmup?: string;
  accounts: number;
  balance: string;
  amount?: string;
  thresholds: string[];
  allowErrors: string[];
}

const DEFAULT_CALLERS = 8;
const DEFAULT_DURATION = '10s';

/** Which flag an input path came from, so a refusal names the flag the user typed. */
const FLAG_OF: [string, string][] = [
  ['phases.0.groups.0.mix', '--mix/--op'],
  ['phases.0.groups.0.load.rate_per_s', '--rate'],
  ['phases.0.groups.0.load.callers', '--callers'],
  ['phases.0.groups.0.load.arrivals', '--arrivals'],
  ['phases.0.groups.0.load.stages', '--stage'],
  ['phases.0.groups.0.load.start_rate', '--start-rate'],
  ['phases.0.groups.0.duration', '--duration'],
  ['phases.0.groups.0.warmup', '--warmup'],
  ['phases.0.groups.0.amount', '--amount'],
  ['accounts.0.count', '--accounts'],
  ['accounts.0.balance', '--balance'],
  ['expect.thresholds', '--threshold'],
  ['expect.allowed_errors', '--allow-error'],
];

/** `60s:5000`: a stage's duration (left for the schema to check) and target rate. */
function parseStage(text: string): { duration: string; target: unknown } | string {
  const match = /^\s*([^:]+?)\s*:\s*([^:]+?)\s*$/.exec(text);
  if (match === null) return `--stage: cannot read "${text}": expected duration:rate, e.g. 60s:5000`;
  const target = Number(match[2]);
  return { duration: match[1]!, target: Number.isNaN(target) ? match[2] : target };
}

function parseMix(text: string): Record<string, unknown> | string {
  const mix: Record<string, unknown> = {};
  for (const part of text.split(',')) {
    const match = /^\s*([a-z-]+)\s*(?:=\s*(\d+(?:\.\d+)?))?\s*$/.exec(part);
    if (match === null) return `--mix: cannot read "${part}": expected op=weight, e.g. transfer=3,get=1`;
    mix[match[1]!] = match[2] === undefined ? 1 : Number(match[2]);
  }
  return mix;
}

/**
 * The same Scenario a file would give, built from flags and validated by the same schema: one
 * closed (`--callers`) or open (`--rate`) group over `--accounts` accounts for `--duration`.
 */
export function flagScenario(o: FlagScenarioOptions): Scenario {
  const problems: string[] = [];
  if (o.op !== undefined && o.mix !== undefined) problems.push('use --op or --mix, not both');
  if (o.rate !== undefined && o.callers !== undefined)
    problems.push('use --rate (open loop) or --callers (closed loop), not both');
  const ramp = o.stage !== undefined && o.stage.length > 0;
  if (ramp && o.rate !== undefined) problems.push('use --rate (one rate) or --stage (a ramp), not both');
  if (ramp && o.callers !== undefined) problems.push('--stage is open loop: it does not take --callers');
  if (ramp && o.duration !== undefined)
    problems.push('--stage: the ramp lasts as long as its stages; drop --duration');
  if (o.startRate !== undefined && !ramp) problems.push('--start-rate needs --stage');
  if (o.arrivals !== undefined && o.rate === undefined && !ramp)
    problems.push('--arrivals needs --rate or --stage (open loop)');
  const stages = (o.stage ?? []).map(parseStage);
  for (const s of stages) if (typeof s === 'string') problems.push(s);
  const mix = o.mix === undefined ? { [o.op ?? 'transfer']: 1 } : parseMix(o.mix);
  if (typeof mix === 'string') problems.push(mix);
  else {
    const known: readonly string[] = MIX_OP_KINDS;
    for (const op of Object.keys(mix).filter((op) => !known.includes(op))) {
      problems.push(`--mix/--op: unknown operation "${op}" (known: ${MIX_OP_KINDS.join(', ')})`);
    }
  }
  if (problems.length > 0) throw new ScenarioError(problems);
  const amount = o.amount === undefined ? undefined : o.amount.split('..');
  const input = {
    name: 'load',
    description: 'built from ledgerctl load flags',
    accounts: [{ count: o.accounts, prefix: 'load-', balance: o.balance }],
    phases: [
      {
        name: 'load',
        groups: [
          {
            name: 'load',
            mix,
            load: ramp
              ? {
                  model: 'open',
                  stages,
                  ...(o.startRate === undefined ? {} : { start_rate: o.startRate }),
                  ...(o.arrivals === undefined ? {} : { arrivals: o.arrivals }),
                }
              : o.rate === undefined
                ? { model: 'closed', callers: o.callers ?? DEFAULT_CALLERS }
                : {
                    model: 'open',
                    rate_per_s: o.rate,
                    ...(o.arrivals === undefined ? {} : { arrivals: o.arrivals }),
                  },
            ...(ramp ? {} : { duration: o.duration ?? DEFAULT_DURATION }),
            ...(o.warmup === undefined ? {} : { warmup: o.warmup }),
            ...(amount === undefined ? {} : { amount: { min: amount[0], max: amount[1] ?? amount[0] } }),
          },
        ],
      },
    ],
    expect: {
      thresholds: o.thresholds,
      // Random transfers among a few accounts may find one empty: a refusal, not a fault.
      allowed_errors: ['FAILED_PRECONDITION', ...o.allowErrors],
    },
  };
  const result = ScenarioSchema.safeParse(input);
  if (result.success) return result.data;
  throw new ScenarioError(result.error.issues.map((issue) => describeFlag(issue)));
}

function describeFlag(issue: z.core.$ZodIssue): string {
  const path = issue.path.join('.');
  const flag = FLAG_OF.find(([prefix]) => path === prefix || path.startsWith(`${prefix}.`))?.[1];
  const message =
    issue.code === 'invalid_value'
      ? `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
      : issue.message;
  return `${flag ?? path}: ${message}`;
}
