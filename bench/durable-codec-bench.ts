import { Packr } from 'msgpackr';
import type { AccountState, LogEntry } from '../src/domain/types.js';
import {
  decodeAccount,
  decodeV1Account,
  encodeAccount,
  encodeHead,
  encodeIndexEntry,
  encodeLogEntry,
  encodeTxRecord,
} from '../src/engine/durable-codec.js';
import type { TxRecord } from '../src/engine/outcome.js';

/*
 * What the checksummed frames of format 2 cost per durable write and per recovered account,
 * against format 1's plain msgpack tuples (what lmdb-js's msgpack encoding stored), in one
 * process, rounds alternating so machine noise hits both sides alike. A transfer's write encodes
 * two accounts, a log entry, an index entry, an idempotency record and (format 2) the head.
 * Usage: npm run build && node dist/bench/durable-codec-bench.js [--rounds 7] [--writes 200000]
 */

function numberFlag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}

const rounds = numberFlag('rounds', 7);
const writes = numberFlag('writes', 200_000);
const plain = new Packr({ useRecords: false });

const from: AccountState = { id: 'acct-0000123', balance: 999_977n, version: 41 };
const to: AccountState = { id: 'acct-0098765', balance: 1_000_023n, version: 17 };
const entry = (position: number): LogEntry => ({
  position,
  transactionId: `tx-${position}-9f3a2c1b44e0`,
  timestampNs: 1_764_500_000_000_000_000n + BigInt(position),
  operation: 'transfer',
  accountIds: [from.id, to.id],
  amount: 1n,
  balancesAfter: [from.balance, to.balance],
  status: 'OK',
  principal: '',
});
const record = (e: LogEntry): TxRecord => ({
  transactionId: e.transactionId,
  fingerprint: `transfer|${from.id}|${to.id}|1`,
  expiresAtMs: 1_764_586_400_000,
  outcome: { ok: true, result: { transactionId: e.transactionId, accounts: [from, to] } },
});

let sink = 0;

function writeV2(position: number): void {
  const e = entry(position);
  sink += encodeAccount(from).length + encodeAccount(to).length;
  sink += encodeLogEntry(e).length + encodeIndexEntry(e.transactionId, position).length;
  sink += encodeTxRecord(record(e)).length;
  sink += encodeHead({ accounts: 100_000, totalBalance: 100_000_000_000n, lastPosition: position }).length;
}

/** Format 1: the same tuples, msgpack only (lmdb-js encoded them inside put). */
function writeV1(position: number): void {
  const e = entry(position);
  const r = record(e);
  sink += plain.pack([from.balance.toString(), from.version]).length;
  sink += plain.pack([to.balance.toString(), to.version]).length;
  sink += plain.pack([
    e.transactionId,
    e.timestampNs.toString(),
    e.operation,
    [...e.accountIds],
    e.amount.toString(),
    e.balancesAfter.map((b) => b.toString()),
  ]).length;
  sink += plain.pack(position).length;
  const outcome = [1, e.transactionId, [from, to].map((a) => [a.id, a.balance.toString(), a.version])];
  sink += plain.pack([r.fingerprint, r.expiresAtMs, outcome]).length;
}

const storedV2 = encodeAccount(from);
const storedV1 = plain.pack([from.balance.toString(), from.version]);

function timeNsPer(n: number, body: (i: number) => void): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) body(i + 1);
  return Number(process.hrtime.bigint() - started) / n;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const samples = {
  writeV1: [] as number[],
  writeV2: [] as number[],
  decodeV1: [] as number[],
  decodeV2: [] as number[],
};
// Warm-up: both paths compiled before anything is timed.
timeNsPer(writes, writeV1);
timeNsPer(writes, writeV2);
for (let round = 0; round < rounds; round++) {
  samples.writeV1.push(timeNsPer(writes, writeV1));
  samples.writeV2.push(timeNsPer(writes, writeV2));
  // A fresh buffer per value, as a range read hands them out (msgpackr caches per buffer).
  samples.decodeV1.push(
    timeNsPer(writes, () => (sink += decodeV1Account(from.id, Buffer.from(storedV1)).version)),
  );
  samples.decodeV2.push(
    timeNsPer(writes, () => (sink += decodeAccount(from.id, Buffer.from(storedV2)).version)),
  );
}
const w1 = median(samples.writeV1);
const w2 = median(samples.writeV2);
const d1 = median(samples.decodeV1);
const d2 = median(samples.decodeV2);
console.log(`encode per transfer write, format 1 (msgpack): ${(w1 / 1000).toFixed(2)} us`);
console.log(`encode per transfer write, format 2 (checksummed frames + head): ${(w2 / 1000).toFixed(2)} us`);
console.log(`checksum cost per write: +${((w2 - w1) / 1000).toFixed(2)} us (x${(w2 / w1).toFixed(2)})`);
console.log(`decode per recovered account, format 1: ${d1.toFixed(0)} ns; format 2: ${d2.toFixed(0)} ns`);
console.log(`checksum cost per 1,000,000 accounts at recovery: +${(d2 - d1).toFixed(0)} ms`);
console.log(`(${rounds} rounds of ${writes}, medians; sink ${sink % 10})`);
