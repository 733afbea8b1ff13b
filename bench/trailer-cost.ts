import * as grpc from '@grpc/grpc-js';

/**
 * The server-time trailer's own CPU: building the trailer grpc-js sends with every answer, with
 * and without the `ledger-server-time-us` entry (the rest of an answer is the same either way).
 * node dist/bench/trailer-cost.js
 */
const N = 1_000_000;
const started = performance.now();
let sink = 0;
function bench(withTime: boolean): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const m = new grpc.Metadata();
    if (withTime) m.set('ledger-server-time-us', String(Math.round((performance.now() - started) * 1000)));
    sink += m.toHttp2Headers() === undefined ? 0 : 1;
  }
  const c = process.cpuUsage(t0);
  return ((c.user + c.system) * 1000) / N;
}
for (let round = 0; round < 3; round++) {
  const without = bench(false);
  const withTime = bench(true);
  console.log(
    JSON.stringify({
      round,
      trailerNsWithout: Math.round(without),
      trailerNsWith: Math.round(withTime),
      extraNsPerCall: Math.round(withTime - without),
    }),
  );
}
if (sink < 0) console.log(sink);
