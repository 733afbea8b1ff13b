import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { runConformance } from '../src/harness/conformance/index.js';
import { type RunningServer, startLedgerServer } from '../src/server/ledger-server.js';
import { createLogger } from '../src/server/logger.js';
import { ledgerServiceDefinition, REPLAYED_METADATA_KEY } from '../src/wire/ledger-proto.js';

const DEADLINE_MS = 10_000;

interface Tamper {
  /** Drop the `ledger-replayed` trailer from every answer. */
  dropReplayTrailer?: boolean;
  /** Rewrite error messages on their way back. */
  rewriteMessage?: (message: string) => string;
  /** Pass every balance through a JavaScript number, as a careless implementation would. */
  balancesAsDoubles?: boolean;
  /** ExecuteBatch: clear every result's `replayed` flag. */
  dropBatchReplayed?: boolean;
}

function dropReplayed(value: unknown): unknown {
  const response = value as { results: { replayed: boolean }[] };
  return { ...response, results: response.results.map((r) => ({ ...r, replayed: false })) };
}

function doubleBalances(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(doubleBalances);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, k === 'balance' ? String(Number(v)) : doubleBalances(v)]),
  );
}

/**
 * A deliberately non-conforming ledger: a grpc-js server speaking ledger.v1 that forwards every
 * call to the real one and changes exactly one thing on the way back. It serves neither health
 * nor reflection.
 */
async function startTamperingProxy(upstream: string, tamper: Tamper) {
  const client = new LedgerClient(upstream, { deadlineMs: DEADLINE_MS });
  const server = new grpc.Server();
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [method] of Object.entries(ledgerServiceDefinition())) {
    handlers[method] = (
      call: grpc.ServerUnaryCall<object, unknown>,
      callback: grpc.sendUnaryData<unknown>,
    ) => {
      const trailer = (replayed: boolean) => {
        const metadata = new grpc.Metadata();
        if (replayed && !tamper.dropReplayTrailer) metadata.set(REPLAYED_METADATA_KEY, 'true');
        return metadata;
      };
      client.raw(method, call.request).then(
        (reply) => {
          let value = tamper.balancesAsDoubles ? doubleBalances(reply.value) : reply.value;
          if (tamper.dropBatchReplayed && method === 'ExecuteBatch') value = dropReplayed(value);
          callback(null, value, trailer(reply.replayed));
        },
        (err: unknown) => {
          if (!(err instanceof LedgerCallError))
            return callback({ code: grpc.status.INTERNAL, details: 'proxy' });
          const details = tamper.rewriteMessage?.(err.details) ?? err.details;
          callback({ code: err.code, details, metadata: trailer(err.replayed) }, null);
        },
      );
    };
  }
  server.addService(ledgerServiceDefinition(), handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    target: `127.0.0.1:${port}`,
    stop: () => {
      client.close();
      server.forceShutdown();
    },
  };
}

const failedRules = (verdicts: { name: string; passed: boolean }[]) =>
  verdicts.filter((v) => !v.passed).map((v) => v.name);

describe('the ledger.v1 conformance kit', () => {
  let real: RunningServer;

  beforeAll(async () => {
    const engine = await LedgerEngine.open({});
    real = await startLedgerServer({ host: '127.0.0.1', port: 0, engine, logger: createLogger('silent') });
  });
  afterAll(async () => {
    await real?.shutdown();
  });

  it('passes against the real server, one verdict per rule, and records its calls', async () => {
    const { verdicts, records } = await runConformance(real.target, { deadlineMs: DEADLINE_MS });
    for (const v of verdicts)
      expect(v, `${v.name}\n${v.evidence.join('\n')}`).toMatchObject({ passed: true });
    expect(verdicts.length).toBeGreaterThanOrEqual(20);
    expect(verdicts.every((v) => v.name.startsWith('conformance:'))).toBe(true);
    expect(records.length).toBeGreaterThan(100);
    expect(records.every((r, i) => r.index === i && r.type !== 'info')).toBe(true);
  });

  it('can run twice against one server (unique ids per run)', async () => {
    const { verdicts } = await runConformance(real.target, {
      deadlineMs: DEADLINE_MS,
      rules: ['create-account', 'already-exists'],
    });
    expect(verdicts.map((v) => [v.name, v.passed])).toEqual([
      ['conformance:create-account', true],
      ['conformance:already-exists', true],
    ]);
  });

  it('fails the replay rules, naming request and answer, when the ledger-replayed trailer is dropped', async () => {
    const proxy = await startTamperingProxy(real.target, { dropReplayTrailer: true });
    try {
      const { verdicts } = await runConformance(proxy.target, { deadlineMs: DEADLINE_MS });
      expect(failedRules(verdicts)).toEqual([
        'conformance:replay-success',
        'conformance:replay-error',
        'conformance:concurrent-duplicates',
        'conformance:health',
        'conformance:reflection',
        // The proxy is a plain grpc-js server: protobufjs's lenient reader accepts malformed bytes.
        'conformance:strict-wire',
      ]);
      const replay = verdicts.find((v) => v.name === 'conformance:replay-success')!;
      expect(replay.evidence[0]).toMatch(
        /^UpdateBalance\{account_id: "cf[0-9a-f]{8}-replay-success-a", delta: 10, transaction_id: "cf[0-9a-f]{8}-replay-success-u"\} -> OK .*; expected trailing metadata ledger-replayed: true$/,
      );
      expect(verdicts.find((v) => v.name === 'conformance:health')!.evidence[0]).toMatch(
        /^grpc\.health\.v1\.Health\/Check \{service: ""\} -> UNIMPLEMENTED/,
      );
    } finally {
      proxy.stop();
    }
  });

  it('fails the strict-wire rule against a lenient decoder, naming the bytes it accepted', async () => {
    const proxy = await startTamperingProxy(real.target, {});
    try {
      const { verdicts } = await runConformance(proxy.target, {
        deadlineMs: DEADLINE_MS,
        rules: ['strict-wire'],
      });
      const verdict = verdicts.find((v) => v.name === 'conformance:strict-wire')!;
      expect(verdict.passed).toBe(false);
      expect(verdict.evidence.length).toBeGreaterThan(0);
      expect(
        verdict.evidence.some((e) => /^\w+ bytes [0-9a-f]* \(.*\) -> OK; expected INVALID_ARGUMENT/.test(e)),
      ).toBe(true);
    } finally {
      proxy.stop();
    }
  });

  it('fails the rule whose message was changed, naming the exact message expected', async () => {
    const proxy = await startTamperingProxy(real.target, {
      rewriteMessage: (m) => (m === 'Transfer amount must be positive' ? 'amount must be > 0' : m),
    });
    try {
      const { verdicts } = await runConformance(proxy.target, {
        deadlineMs: DEADLINE_MS,
        rules: ['required-fields', 'argument-checks', 'validation-order', 'not-found'],
      });
      expect(failedRules(verdicts)).toEqual(['conformance:argument-checks', 'conformance:validation-order']);
      const evidence = verdicts.find((v) => v.name === 'conformance:argument-checks')!.evidence;
      expect(evidence).toHaveLength(2);
      expect(evidence[0]).toMatch(
        /^TransferFunds\{.*amount: 0, .*\} -> INVALID_ARGUMENT 'amount must be > 0'; expected INVALID_ARGUMENT 'Transfer amount must be positive'$/,
      );
    } finally {
      proxy.stop();
    }
  });

  it('fails the batch rules when per-operation replay flags are lost or a chain message changes', async () => {
    const proxy = await startTamperingProxy(real.target, {
      dropBatchReplayed: true,
      rewriteMessage: (m) => (m === 'Batch has no operations' ? 'empty batch' : m),
    });
    try {
      const { verdicts } = await runConformance(proxy.target, {
        deadlineMs: DEADLINE_MS,
        rules: [
          'batch-per-operation',
          'batch-log-run',
          'batch-replay',
          'batch-linked-chain',
          'batch-refusals',
        ],
      });
      expect(failedRules(verdicts)).toEqual(['conformance:batch-replay', 'conformance:batch-refusals']);
      expect(verdicts.find((v) => v.name === 'conformance:batch-replay')!.evidence[0]).toMatch(
        /^ExecuteBatch\[3 operations: .*\] operation 0 -> OK .*; expected OK .* \[replayed\]$/,
      );
      expect(verdicts.find((v) => v.name === 'conformance:batch-refusals')!.evidence[0]).toBe(
        "ExecuteBatch[0 operations: ] -> INVALID_ARGUMENT 'empty batch'; expected INVALID_ARGUMENT 'Batch has no operations'",
      );
    } finally {
      proxy.stop();
    }
  });

  it('fails the int64 rules when balances lose precision on the way', async () => {
    const proxy = await startTamperingProxy(real.target, { balancesAsDoubles: true });
    try {
      const { verdicts } = await runConformance(proxy.target, {
        deadlineMs: DEADLINE_MS,
        rules: ['create-account', 'version-increments', 'int64-exact', 'int64-max-and-overflow'],
      });
      expect(failedRules(verdicts)).toEqual([
        'conformance:int64-exact',
        'conformance:int64-max-and-overflow',
      ]);
      expect(verdicts.find((v) => v.name === 'conformance:int64-exact')!.evidence[0]).toMatch(
        /^CreateAccount\{.*initial_balance: 9007199254740993, .*\} -> balance 9007199254740992; expected balance 9007199254740993$/,
      );
    } finally {
      proxy.stop();
    }
  });
});
