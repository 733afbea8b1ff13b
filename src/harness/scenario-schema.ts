import { z } from 'zod';
import { LIMITS } from '../domain/limits.js';
import { INVARIANT_NAMES } from './checkers/expectations.js';
import { STATUS_NAMES } from './grpc-wire.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import {
  BATCH_ITEM_OPS,
  MIX_OP_KINDS,
  type MixOpKind,
  OP_KINDS,
  type OpKind,
  type WriteOp,
} from './op-kinds.js';
import { parseThreshold, type Threshold } from './thresholds.js';
import { DURATION_PATTERN, parseDurationMs } from './units.js';

/**
 * The scenario file format (YAML), validated strictly: an unknown key is an error, not a silent
 * no-op, because a typo in a CI gate's scenario must not quietly weaken what it checks.
 * docs/harness.md documents every key; scenarios/schema.json is generated from this for editors.
 */

/** The contract's largest batch (LIMITS.maxBatchOperations). */
const MAX_BATCH_SIZE = 8_190;
/** Checked when a scenario lists none: every invariant but durability, which needs a spawned server's kills to mean much. */
export const DEFAULT_INVARIANTS = INVARIANT_NAMES.filter((n) => n !== 'durability');
/** Every status code but OK: what `allowed_errors` may name. */
const GRPC_CODE_NAMES = STATUS_NAMES.slice(1) as [
  Exclude<(typeof STATUS_NAMES)[number], 'OK'>,
  ...Exclude<(typeof STATUS_NAMES)[number], 'OK'>[],
];

/** Money: a YAML integer (exact up to 2^53) or a decimal string for anything beyond; always bigint after. */
const money = z
  .union([z.int(), z.string().regex(/^-?\d+$/, 'expected an integer amount (a decimal string is fine)')])
  .transform((value) => BigInt(value));

const anyDuration = z
  .string()
  .regex(DURATION_PATTERN, 'expected a duration like 500ms, 5s or 2m')
  .transform((text) => parseDurationMs(text)!);

const TOO_LONG_FOR_A_TIMER = `longer than a timer can hold: at most ${LIMITS.maxTimerMs} ms (about 24.8 days, e.g. 24d)`;
/**
 * What the harness waits for (a run, a phase, a call deadline) is held by Node's 32-bit timers or
 * grpc-js's deadlines: past 2^31-1 ms they fire after 1 ms, so a 30-day run would end at once.
 */
const duration = anyDuration.refine((ms) => ms <= LIMITS.maxTimerMs, TOO_LONG_FOR_A_TIMER);

const positiveInt = z.int().min(1);
const name = z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected a name of letters, digits, - _ .');
/** Templated ids: {i} call index, {round}, {caller}, {run} (a per-run nonce against shared servers). */
const idTemplate = z.string().min(1);

const range = z.strictObject({ min: money, max: money }).refine((r) => r.min <= r.max, 'min must be <= max');

/** One mapping with optional keys (not a union) so a bad value is reported precisely, not as "no branch matched". */
const accountSpec = z
  .strictObject({
    id: z.string().min(1).optional(),
    count: positiveInt.optional(),
    prefix: z.string().min(1).optional(),
    balance: money.default(0n),
  })
  .superRefine((a, ctx) => {
    const ranged = a.count !== undefined || a.prefix !== undefined;
    if ((a.id !== undefined) === ranged || (ranged && (a.count === undefined || a.prefix === undefined))) {
      ctx.addIssue({ code: 'custom', message: 'expected {id, balance} or {count, prefix, balance}' });
    }
  });

const script = z
  .strictObject({
    op: z.enum(OP_KINDS),
    account: idTemplate.optional(),
    from: idTemplate.optional(),
    to: idTemplate.optional(),
    amount: money.optional(),
    txid: idTemplate.optional(),
    include_accounts: z.boolean().optional(),
  })
  .superRefine((s, ctx) => {
    const need = (key: 'account' | 'from' | 'to' | 'amount' | 'txid') => {
      if (s[key] === undefined) ctx.addIssue({ code: 'custom', message: `${s.op} needs "${key}"`, path: [] });
    };
    if (s.op === 'get' || s.op === 'update' || s.op === 'create') need('account');
    if (s.op === 'update') need('amount');
    if (s.op === 'transfer') for (const key of ['from', 'to', 'amount'] as const) need(key);
    if (s.op === 'query') need('txid');
  });

/** The batches a mix's `batch` op sends: size, share of linked operations, and what they hold. */
const batchSpec = z.strictObject({
  size: positiveInt.max(MAX_BATCH_SIZE).default(100),
  linked_share: z.number().min(0).max(1).default(0),
  mix: z
    .partialRecord(z.enum(BATCH_ITEM_OPS), z.number().min(0))
    .default({ transfer: 1 })
    .refine((m) => Object.values(m).some((w) => (w ?? 0) > 0), 'the batch mix needs a weight above 0'),
});

const pick = z.discriminatedUnion('dist', [
  z.strictObject({ dist: z.literal('uniform') }),
  z.strictObject({ dist: z.literal('hot'), hot_accounts: positiveInt, hot_share: z.number().min(0).max(1) }),
]);

const ratePerS = z.number().min(0).max(HARNESS_LIMITS.maxOpenLoopRatePerS);

/** A ramp stage (k6's ramping-arrival-rate): the rate moves linearly to `target` over `duration`. */
const stage = z.strictObject({ duration, target: ratePerS });

const load = z
  .discriminatedUnion('model', [
    z.strictObject({ model: z.literal('closed'), callers: positiveInt.max(HARNESS_LIMITS.maxCallers) }),
    z
      .strictObject({
        model: z.literal('open'),
        rate_per_s: ratePerS.positive().optional(),
        /** A ramp instead of one rate: from `start_rate` (default 0), each stage in turn. */
        start_rate: ratePerS.optional(),
        stages: z.array(stage).min(1).max(HARNESS_LIMITS.maxRampStages).optional(),
        arrivals: z.enum(['uniform', 'poisson']).default('uniform'),
        max_in_flight: positiveInt.optional(),
      })
      .superRefine((l, ctx) => {
        const issue = (message: string, key: string) =>
          ctx.addIssue({ code: 'custom', message, path: [key] });
        if ((l.rate_per_s === undefined) === (l.stages === undefined)) {
          issue('an open load needs exactly one of "rate_per_s" or "stages"', 'rate_per_s');
        }
        if (l.start_rate !== undefined && l.stages === undefined)
          issue('"start_rate" needs "stages"', 'start_rate');
        if (l.stages !== undefined) {
          if (l.stages.every((s) => s.duration === 0)) issue('the stages last 0s in all', 'stages');
          else if (Math.max(l.start_rate ?? 0, ...l.stages.map((s) => s.target)) === 0)
            issue('the stages never rise above 0/s', 'stages');
        }
      }),
  ])
  // Everything that needs one rate (the floor's calibration, the report) sees a ramp's peak.
  .transform((l) =>
    l.model === 'open'
      ? {
          ...l,
          rate_per_s: l.rate_per_s ?? Math.max(l.start_rate ?? 0, ...(l.stages ?? []).map((s) => s.target)),
        }
      : l,
  );

const group = z
  .strictObject({
    name,
    script: script.optional(),
    mix: z.partialRecord(z.enum(MIX_OP_KINDS), z.number().min(0)).optional(),
    batch: batchSpec.optional(),
    pool: z.array(z.string().min(1)).min(1).optional(),
    pick: pick.optional(),
    amount: range.optional(),
    delta: range.optional(),
    snapshot_accounts: z.boolean().optional(),
    load: load.default({ model: 'closed', callers: 1 }),
    ops: positiveInt.optional(),
    duration: duration.optional(),
    rounds: positiveInt.optional(),
    warmup_ops: z.int().min(0).optional(),
    warmup: duration.optional(),
    deadline: duration.optional(),
  })
  .superRefine((g, ctx) => {
    const issue = (message: string, key?: string) =>
      ctx.addIssue({ code: 'custom', message, path: key === undefined ? [] : [key] });
    if ((g.script === undefined) === (g.mix === undefined))
      issue('a group needs exactly one of "script" or "mix"');
    const stages = g.load.model === 'open' ? g.load.stages : undefined;
    if (stages !== undefined) {
      if (g.duration !== undefined) issue('"duration" comes from the stages: leave it out', 'duration');
      if (stages.reduce((sum, s) => sum + s.duration, 0) > LIMITS.maxTimerMs)
        ctx.addIssue({
          code: 'custom',
          message: `the stages together are ${TOO_LONG_FOR_A_TIMER}`,
          path: ['load', 'stages'],
        });
      if (g.ops !== undefined) issue('a ramp ends with its stages: "ops" does not apply', 'ops');
    } else if ((g.ops === undefined) === (g.duration === undefined))
      issue('a group needs exactly one of "ops" or "duration"');
    if (g.mix !== undefined && !Object.values(g.mix).some((w) => (w ?? 0) > 0)) {
      issue('the mix needs at least one op with a weight above 0', 'mix');
    }
    if (g.batch !== undefined && !((g.mix?.batch ?? 0) > 0))
      issue('"batch" needs a "batch" weight above 0 in the mix', 'batch');
    if (g.rounds !== undefined && g.script === undefined)
      issue('"rounds" applies to scripted groups only', 'rounds');
    if (g.rounds !== undefined && g.duration !== undefined)
      issue('"rounds" needs "ops", not "duration"', 'rounds');
    if (g.warmup !== undefined && g.warmup_ops !== undefined)
      issue('use "warmup" or "warmup_ops", not both', 'warmup');
  })
  // A ramp's group lasts as long as its stages.
  .transform((g) => ({
    ...g,
    duration:
      g.load.model === 'open' && g.load.stages !== undefined
        ? g.load.stages.reduce((sum, s) => sum + s.duration, 0)
        : g.duration,
  }));

const phase = z.strictObject({
  name,
  timeout: duration.optional(),
  groups: z.array(group).min(1),
});

const server = z.strictObject({
  /**
   * in-process: the ledger in a worker thread of the harness (default). spawned: `ledgerctl serve`
   * as a child process, which the harness can kill and restart (see `faults`).
   */
  mode: z.enum(['in-process', 'spawned']).default('in-process'),
  /** spawned only: `temp`, a fresh temporary data dir (removed after a passing run). */
  data_dir: z.literal('temp').optional(),
  /** spawned only: `ledgerctl serve --in-memory`: nothing survives a kill (proves the durability verdict can fail). */
  in_memory: z.boolean().optional(),
  /**
   * spawned only: `postgres` keeps the ledger in a fresh PostgreSQL database (created for the run
   * on LEDGER_STRESS_DATABASE_URL's server) shared by `instances` servers; callers are spread
   * over them and a `kill` fault kills the first one.
   */
  storage: z.enum(['lmdb', 'postgres']).optional(),
  /** storage postgres only: how many `ledgerctl serve` processes share the database. */
  instances: positiveInt.max(8).optional(),
  locking: z.enum(['account', 'global']).default('account'),
  txid_ttl: anyDuration.optional(),
  txid_sweep_threshold: positiveInt.optional(),
  max_txids: positiveInt.optional(),
  /** spawned durable server only: idempotency records cached in memory in front of the disk. */
  txid_cache: positiveInt.optional(),
  log_window_entries: positiveInt.optional(),
  max_in_flight_calls: positiveInt.optional(),
  /**
   * spawned only: serve TLS with a throwaway CA the harness makes for the run (openssl CLI);
   * `mutual` also requires a client certificate (mTLS). The run's clients trust that CA.
   */
  tls: z.union([z.boolean(), z.literal('mutual')]).optional(),
  /** Simulated storage: every commit awaits a delay drawn uniformly from [min, max] ms. */
  commit_delay_ms: z
    .tuple([z.number().min(0), z.number().min(0)])
    .refine(([min, max]) => min <= max, 'expected [min, max] with min <= max')
    .optional(),
  /** TEST DOUBLE: a deliberately broken engine, to prove the verdicts can fail. Never for real runs. */
  test_double: z.strictObject({ unsafe_locking: z.enum(['none', 'unordered']) }).optional(),
});

/** "300ms..900ms": a uniform random pick from [min, max]; a single duration means exactly that. */
const interval = z.string().transform((text, ctx) => {
  const parts = text.split('..').map((p) => parseDurationMs(p));
  const [min, max = min] = parts;
  if (parts.length > 2 || min === undefined || max === undefined || min > max) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected a duration or a range like 300ms..900ms (min <= max)',
    });
    return z.NEVER;
  }
  return { minMs: min, maxMs: max };
});

/** Kill the spawned server at seeded random moments while the phases run, and restart it on the same data dir. */
/**
 * `kill: server`: kill the spawned server at seeded random moments and restart it on the same data
 * dir (or database). `command: { down, up }`: shell commands that take the deployment (or its
 * database) down and bring it back, for --target servers the harness did not start (kill/restart,
 * pause with SIGSTOP/SIGCONT) or to restart the PostgreSQL under spawned instances; back up means
 * every target's health is SERVING again.
 */
const fault = z
  .strictObject({
    kill: z.literal('server').optional(),
    command: z.strictObject({ down: z.string().min(1), up: z.string().min(1) }).optional(),
    /** Uptime before each kill, measured from the moment the (re)started server is ready. */
    every: interval,
    /** kill faults: the signal (default SIGKILL). */
    signal: z.enum(['SIGKILL', 'SIGTERM']).optional(),
    /** At most this many kills (default: keep killing until the phases end). */
    count: positiveInt.optional(),
    /** After each restart, resend every write left indeterminate by a kill, with its transaction id. */
    retry_indeterminate: z.boolean().default(true),
  })
  .superRefine((f, ctx) => {
    if ((f.kill === undefined) === (f.command === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected either "kill: server" or "command: { down, up }"' });
    }
    if (f.command !== undefined && f.signal !== undefined) {
      ctx.addIssue({ code: 'custom', message: '"signal" is for kill: server', path: ['signal'] });
    }
  });

/** Parsed here, once: the runner receives a Threshold, never the text to parse again. */
const threshold = z.string().transform((text, ctx): Threshold => {
  const parsed = parseThreshold(text);
  if (typeof parsed === 'string') {
    ctx.addIssue({ code: 'custom', message: parsed });
    return z.NEVER;
  }
  return parsed;
});

const expect = z.strictObject({
  /** Absent: the defaults, plus durability when the scenario injects faults. */
  invariants: z.array(z.enum(INVARIANT_NAMES)).optional(),
  final_balances: z.record(z.string(), money).optional(),
  allowed_errors: z.array(z.enum(GRPC_CODE_NAMES)).default([]),
  thresholds: z.array(threshold).default([]),
});

const scenarioObject = z.strictObject({
  $schema: z.string().optional(),
  name,
  description: z.string().optional(),
  kind: z.enum(['load', 'conformance']).default('load'),
  ci: z.boolean().default(false),
  seed: z.int().min(0).optional(),
  deadline: duration.optional(),
  connections: positiveInt.max(HARNESS_LIMITS.maxConnectionsPerTarget).optional(),
  /**
   * The load generator: `threads` (default 1) splits every group over that many generator threads
   * (each with its own event loop and connections); `client` is the lean HTTP/2 caller (default)
   * or grpc-js (to compare against).
   */
  generator: z
    .strictObject({
      threads: positiveInt.max(HARNESS_LIMITS.maxGeneratorThreads).optional(),
      client: z.enum(['lean', 'grpc-js']).optional(),
    })
    .optional(),
  server: server.default({ mode: 'in-process', locking: 'account' }),
  faults: z.array(fault).max(1, 'one kill fault per scenario').default([]),
  accounts: z.array(accountSpec).default([]),
  phases: z.array(phase).default([]),
  expect: expect.default({ allowed_errors: [], thresholds: [] }),
});

export const ScenarioSchema = scenarioObject
  .superRefine((s, ctx) => {
    checkServerMode(s, ctx);
    if (s.kind === 'load' && s.phases.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'a load scenario needs at least one phase', path: ['phases'] });
    }
    const seen = new Set<string>();
    for (const [pi, p] of s.phases.entries()) {
      for (const [gi, g] of p.groups.entries()) {
        if (seen.has(g.name)) {
          ctx.addIssue({
            code: 'custom',
            message: `group name "${g.name}" is used twice (names key the generated transaction ids)`,
            path: ['phases', pi, 'groups', gi, 'name'],
          });
        }
        seen.add(g.name);
      }
    }
  })
  .transform((s) => ({
    ...s,
    expect: {
      ...s.expect,
      invariants: s.expect.invariants ?? [...(s.faults.length > 0 ? INVARIANT_NAMES : DEFAULT_INVARIANTS)],
    },
  }));

/** Keys the spawned `ledgerctl serve` has no flag for, and the in-process server's counterpart. */
const IN_PROCESS_ONLY = ['commit_delay_ms', 'test_double'] as const;

function checkServerMode(s: z.output<typeof scenarioObject>, ctx: z.RefinementCtx): void {
  const issue = (message: string, path: (string | number)[]) =>
    ctx.addIssue({ code: 'custom', message, path });
  if (s.server.mode === 'spawned') {
    for (const key of IN_PROCESS_ONLY) {
      if (s.server[key] !== undefined) issue(`"${key}" needs server mode in-process`, ['server', key]);
    }
    if (s.server.in_memory === true && s.server.data_dir !== undefined) {
      issue('use "data_dir" or "in_memory", not both', ['server', 'in_memory']);
    }
    if (s.server.storage === 'postgres') {
      for (const key of ['data_dir', 'in_memory', 'txid_cache'] as const) {
        if (s.server[key] !== undefined)
          issue(`"${key}" is for a server on its own storage, not postgres`, ['server', key]);
      }
    } else if (s.server.instances !== undefined) {
      issue('several instances share one ledger only with "storage: postgres"', ['server', 'instances']);
    }
    if (s.server.in_memory === true && s.server.txid_cache !== undefined) {
      issue('"txid_cache" is for a durable server (records on disk), not in_memory', [
        'server',
        'txid_cache',
      ]);
    }
    if (s.kind === 'conformance')
      issue('a conformance scenario runs against an in-process server or --target', ['server', 'mode']);
  } else {
    for (const key of ['data_dir', 'in_memory', 'txid_cache', 'storage', 'instances', 'tls'] as const) {
      if (s.server[key] !== undefined) issue(`"${key}" needs server mode spawned`, ['server', key]);
    }
    if (s.faults.some((f) => f.command === undefined))
      issue('needs "server: { mode: spawned }" (a process the harness can kill)', ['faults']);
  }
}

export type Scenario = z.output<typeof ScenarioSchema>;
export type FaultSpec = Scenario['faults'][number];
export type PhaseSpec = Scenario['phases'][number];
export type GroupSpec = PhaseSpec['groups'][number];
export type ScriptSpec = NonNullable<GroupSpec['script']>;
export type LoadSpec = GroupSpec['load'];
export type OpKindName = OpKind;
export type MixOpName = MixOpKind;
export type BatchItemOpName = WriteOp;
export type BatchSpec = z.infer<typeof batchSpec>;

/** The published JSON Schema (scenarios/schema.json): the input side, as editors see the YAML. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(ScenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
