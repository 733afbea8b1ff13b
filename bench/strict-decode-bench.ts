/**
 * The cost of strict decoding per call: protobufjs's lenient deserializer alone against the strict
 * one (the descriptor-driven wire check, then the same deserializer), on valid requests of every
 * method, in one process and interleaved rounds so both sides see the same machine noise.
 *
 *   npm run build && node dist/bench/strict-decode-bench.js [--rounds N] [--ms-per-round N]
 */
import { parseArgs } from 'node:util';
import { SeededRandom } from '../src/harness/seeded-random.js';
import { fuzzMethods, validRequest } from '../src/harness/wire-fuzz.js';
import { ledgerServiceDefinition } from '../src/wire/ledger-proto.js';
import { strictService } from '../src/wire/strict-service.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '7' }, 'ms-per-round': { type: 'string', default: '300' } },
});
const rounds = Number(values.rounds);
const msPerRound = Number(values['ms-per-round']);

const lenientService = ledgerServiceDefinition();
const strictDefinition = strictService(lenientService);
const byPath = (service: typeof lenientService, path: string) =>
  Object.values(service).find((m) => m.path === path)!;

/** ns per call of `fn` over `bytes`, run for about msPerRound. */
function nsPerCall(fn: (b: Buffer) => unknown, bytes: Buffer): number {
  let n = 0;
  let sink = 0;
  const start = process.hrtime.bigint();
  const until = start + BigInt(msPerRound) * 1_000_000n;
  let now = start;
  while (now < until) {
    for (let i = 0; i < 1_000; i++) sink += fn(bytes) === undefined ? 0 : 1;
    n += 1_000;
    now = process.hrtime.bigint();
  }
  if (sink < 0) console.log(sink);
  return Number(now - start) / n;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function bigBatch(): Buffer {
  // ExecuteBatch with 1,000 transfers: the largest nested request the contract has in common use.
  const method = fuzzMethods().find((m) => m.name === 'ExecuteBatch');
  if (method === undefined) return Buffer.alloc(0);
  const type = method.requestType;
  const ops = Array.from({ length: 1_000 }, (_, i) => ({
    transfer_funds: {
      from_account_id: `account-${i % 97}`,
      to_account_id: `account-${(i + 1) % 97}`,
      amount: '125',
      transaction_id: `batch-tx-${i}`,
    },
  }));
  return Buffer.from(type.encode(type.fromObject({ operations: ops })).finish());
}

const rng = new SeededRandom(1);
let n = 0;
const ids = { accounts: ['alice', 'bob-the-account'], transactionId: () => `tx-0000000${n++}` };
const cases: { name: string; path: string; bytes: Buffer }[] = fuzzMethods().map((m) => ({
  name: m.name,
  path: m.path,
  bytes: Buffer.from(validRequest(m.requestType, rng, ids)),
}));
const batch = bigBatch();
if (batch.length > 0)
  cases.push({ name: 'ExecuteBatch x1000', path: '/ledger.v1.Ledger/ExecuteBatch', bytes: batch });

console.log(`strict decoding: ${rounds} interleaved rounds of ${msPerRound} ms per side, median ns per call`);
console.log('| request | bytes | lenient ns | strict ns | strict - lenient ns | ratio |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const c of cases) {
  const lenient = byPath(lenientService, c.path).requestDeserialize;
  const strict = byPath(strictDefinition, c.path).requestDeserialize;
  const l: number[] = [];
  const s: number[] = [];
  for (let r = 0; r < rounds; r++) {
    l.push(nsPerCall(lenient, c.bytes));
    s.push(nsPerCall(strict, c.bytes));
  }
  const lm = median(l);
  const sm = median(s);
  console.log(
    `| ${c.name} | ${c.bytes.length} | ${lm.toFixed(0)} | ${sm.toFixed(0)} | ${(sm - lm).toFixed(0)} | ${(sm / lm).toFixed(2)} |`,
  );
}
