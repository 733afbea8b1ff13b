import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LedgerClient } from '../src/client/ledger-client.js';
import { callOp } from '../src/harness/call-op.js';
import { h2CallOp } from '../src/harness/h2-call-op.js';
import { H2Channel } from '../src/harness/h2-channel.js';
import type { ServerKind } from './server-child.js';
import { ServerProcess } from './server-process.js';

/**
 * Bytes the generator allocates per call, by client, counted from V8's own GC trace (a quantity
 * that CPU contention on a shared machine does not change, unlike latency): the young-generation
 * size before each scavenge minus the size after the previous one, summed over 20,000 GetBalance
 * calls (32 in flight, one connection) after a 5,000-call warm-up, against a server in a child
 * process. Also the generator's CPU per call.
 *
 * node dist/bench/alloc-per-call.js [null|bare|real]
 */
const N = 20_000;
const WARMUP = 5_000;
const IN_FLIGHT = 32;

if (process.argv[2] === '--child') {
  const [, , , client, target] = process.argv;
  let call: () => Promise<unknown>;
  if (client === 'lean') {
    const ch = new H2Channel(`http://${target}`, { maxResponseBytes: 1 << 20, deadlineTickMs: 20 });
    await ch.connect(5_000);
    call = () => h2CallOp(ch, 'get', { accountId: 's-1' }, 5_000);
  } else {
    const c = new LedgerClient(target!, {});
    await c.waitForReady(5_000);
    call = () => callOp(c, 'get', { accountId: 's-1' }, 5_000);
  }
  const run = async (n: number) => {
    let i = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (i++ < n) await call();
      }),
    );
  };
  await run(WARMUP);
  console.log('MEASURE-START');
  const cpu0 = process.cpuUsage();
  await run(N);
  const cpu = process.cpuUsage(cpu0);
  console.log('MEASURE-END');
  console.log(`CPU ${(cpu.user + cpu.system) / N}`);
  process.exit(0);
}

const kind = (process.argv[2] ?? 'null') as ServerKind;
const server = await ServerProcess.start(kind);
try {
  if (kind !== 'null') {
    const c = new LedgerClient(server.target, {});
    await c.createAccount('s-1', 100n).catch(() => {});
    c.close();
  }
  const self = fileURLToPath(import.meta.url);
  for (const client of ['lean', 'grpc-js']) {
    const out = spawnSync('node', ['--trace-gc', self, '--child', client, server.target], {
      encoding: 'utf8',
    }).stdout;
    const lines = out.split('\n');
    const start = lines.indexOf('MEASURE-START');
    const end = lines.indexOf('MEASURE-END');
    let allocatedMb = 0;
    let lastAfter: number | undefined;
    for (const line of lines.slice(0, end)) {
      const m = /Scavenge ([\d.]+) \([\d.]+\) -> ([\d.]+)/.exec(line);
      if (m === null) continue;
      if (lastAfter !== undefined && lines.indexOf(line) > start) allocatedMb += Number(m[1]) - lastAfter;
      lastAfter = Number(m[2]);
    }
    const scavenges = lines.slice(start, end).filter((l) => l.includes('Scavenge')).length;
    const cpuUs = Number(/CPU ([\d.]+)/.exec(out)?.[1]);
    console.log(
      JSON.stringify({
        server: kind,
        client,
        bytesPerCall: Math.round((allocatedMb * 1024 * 1024) / N),
        scavenges,
        cpuUsPerCall: Math.round(cpuUs),
      }),
    );
  }
} finally {
  await server.stop();
}
