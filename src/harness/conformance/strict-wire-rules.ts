import { status } from '@grpc/grpc-js';
import { RawCaller } from '../../client/raw-call.js';
import { SeededRandom } from '../seeded-random.js';
import { fuzzMethods, mutate, referenceVerdict, validRequest } from '../wire-fuzz.js';
import type { ConformanceRule } from './conformance-rule.js';

/** Mutated requests per method: enough to meet every kind of mutation, quick against a remote server. */
const CASES_PER_METHOD = 150;
const MALFORMED = /^Malformed request: /;

/**
 * Sends raw bytes (no client-side encoding), so the kit judges what any ledger.v1 implementation
 * does with malformed wire input: the attacks seen against a lenient protobuf reader, then seeded
 * mutations of valid requests of every method. What a strict parser refuses must be refused with
 * INVALID_ARGUMENT `Malformed request: ...` and change nothing; what it accepts must not be
 * refused as malformed.
 */
export const strictWireRules: ConformanceRule[] = [
  {
    name: 'strict-wire',
    summary:
      'requests a strict protobuf parser refuses (truncated lengths, unterminated varints, wrong wire types, invalid UTF-8...) are refused with INVALID_ARGUMENT and change nothing',
    async run(ctx) {
      const accounts = [await ctx.setupAccount('a', 1_000n), await ctx.setupAccount('b', 1_000n)];
      const before = ctx.expectOk(await ctx.snapshot(false));
      const raw = new RawCaller(ctx.target, ctx.security);
      try {
        const rng = new SeededRandom(10);
        let n = 0;
        const ids = { accounts, transactionId: () => ctx.id(`t${n++}`) };
        const refusedCases: { path: string; bytes: Uint8Array; what: string }[] = [];
        const acceptedCases: typeof refusedCases = [];
        for (const method of fuzzMethods()) {
          for (let i = 0; i < CASES_PER_METHOD; i++) {
            const { bytes, mutation } = mutate(validRequest(method.requestType, rng, ids), rng);
            const verdict = referenceVerdict(bytes, method.requestType);
            const what = `${method.name} bytes ${Buffer.from(bytes).toString('hex')} (${mutation})`;
            (verdict.accepted ? acceptedCases : refusedCases).push({ path: method.path, bytes, what });
          }
        }
        for (const c of refusedCases) {
          const outcome = await raw.call(c.path, c.bytes, ctx.deadlineMs);
          if (outcome.ok || outcome.code !== status.INVALID_ARGUMENT || !MALFORMED.test(outcome.details)) {
            const got = outcome.ok ? 'OK' : `${status[outcome.code]} '${outcome.details}'`;
            ctx.violation(
              c.what,
              got,
              "INVALID_ARGUMENT 'Malformed request: ...' (a strict parser refuses it)",
            );
          }
        }
        for (const id of accounts) await ctx.expectUnchanged(id, 1_000n, 0n, 'the malformed requests');
        const after = ctx.expectOk(await ctx.snapshot(false));
        if (before !== undefined && after !== undefined) {
          ctx.expectEqual(
            'log_position after only malformed requests',
            after.logPosition,
            before.logPosition,
          );
        }
        for (const c of acceptedCases) {
          const outcome = await raw.call(c.path, c.bytes, ctx.deadlineMs);
          if (!outcome.ok && MALFORMED.test(outcome.details)) {
            ctx.violation(
              c.what,
              `${status[outcome.code]} '${outcome.details}'`,
              'not refused as malformed (a strict parser accepts it)',
            );
          }
        }
      } finally {
        raw.close();
      }
    },
  },
];
