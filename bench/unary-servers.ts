import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { CpuSample, ServerKind } from './server-child.js';
import { ServerProcess } from './server-process.js';

/**
 * Issue 11's unary comparison: the same open-loop load from `ledgerctl load --target` (get 60 /
 * update 20 / transfer 20 over 1,000 accounts) against a bare grpc-js server, the in-memory ledger
 * and the LMDB ledger, each in its own process, rounds in alternating order; p99 from the report,
 * server CPU from the server process over the whole run (set-up included, the same for each).
 *
 * node dist/bench/unary-servers.js [--rate 3000] [--seconds 10] [--rounds 2] [--kinds bare,real,durable]
 * (BENCH_SERVER_FLAGS=--trace-gc prints each server's collections on this process's stdout.)
 */
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '3000' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '2' },
    kinds: { type: 'string', default: 'bare,real,durable' },
  },
});
const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-unary-servers-'));
const kinds = values.kinds.split(',') as ServerKind[];
const cpuUs = (s: CpuSample) => s.userUs + s.systemUs;

for (let round = 0; round < Number(values.rounds); round++) {
  for (const kind of round % 2 === 0 ? kinds : [...kinds].reverse()) {
    const server = await ServerProcess.start(
      kind,
      undefined,
      kind === 'durable' ? mkdtempSync(join(dir, 'data-')) : undefined,
    );
    const load = loadavg()[0]!.toFixed(2);
    const before = await server.cpu();
    const json = join(dir, `${kind}-${round}.json`);
    try {
      execFileSync(
        'node',
        [
          'bin/ledgerctl.js',
          'load',
          '--target',
          server.target,
          '--rate',
          values.rate,
          '--mix',
          'get=60,update=20,transfer=20',
          '--accounts',
          '1000',
          '--duration',
          `${values.seconds}s`,
          '--warmup',
          '2s',
          '--no-status',
          '--json',
          json,
        ],
        { stdio: 'ignore' },
      );
    } catch {
      // A bare server's fixed answers fail the invariants (exit 1); the report is still written.
    }
    const after = await server.cpu();
    await server.stop();
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      ops: { op: string; count: number; warmup: number; latencyUs: { p99: number } }[];
    };
    const all = report.ops.find((o) => o.op === '*')!;
    const calls = all.count + all.warmup;
    console.log(
      JSON.stringify({
        round,
        server: kind,
        load,
        p99Ms: Object.fromEntries(report.ops.map((o) => [o.op, o.latencyUs.p99 / 1000])),
        serverCpuUsPerCall: Math.round((cpuUs(after) - cpuUs(before)) / calls),
      }),
    );
  }
}
