/**
 * What N connections cost the server before any call, measured inside the server's process (a
 * fresh one per case): CPU, heap and RSS per connection, the longest the event loop was held
 * (between two ticks of a 1 ms timer: the process's CPU time, and the wall-clock lateness, which
 * also counts other processes' time on the core) and the garbage collections. The connections come from a separate
 * process under `nice -n 19`, from 127.0.0.2, in bursts of 200 every 5 ms (as bench/abuse-worker.ts
 * does for the idle-connection attack).
 *
 * - `idle`: N connections that never send a byte (issue 10's idle-connection flood, up to
 *   --max-connections).
 * - `wake`: N connections held idle until all are accepted, then all send the HTTP/2 preface and
 *   SETTINGS in the same moment: their sessions are then set up together, which is what
 *   session-pacer.ts paces (`--sessions-per-turn`).
 *
 *   npm run build && node dist/bench/session-setup-bench.js [--connections 1000] [--modes idle,wake]
 *     [--sessions-per-turn 4,1000] [--rounds 2]
 *
 * BENCH_SERVER_ROOT: another build's root (its dist/src is imported) for a before/after pair in one
 * session; a build without session-pacer.ts ignores --sessions-per-turn.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadAverage } from './proc-stats.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '1000' },
    modes: { type: 'string', default: 'idle,wake' },
    'sessions-per-turn': { type: 'string', default: '4,1000' },
    rounds: { type: 'string', default: '2' },
    case: { type: 'string' },
  },
});

interface Case {
  mode: 'idle' | 'wake';
  connections: number;
  sessionsPerTurn: number;
  root: string;
}

interface Result {
  cpuUsPerConnection: number;
  heapBytesPerConnection: number;
  rssBytesPerConnection: number;
  maxLoopStallMs: number;
  maxBusyMs: number;
  stallsOver5Ms: number;
  gcPausesMs: number[];
  open: number;
}

/** The attacker: connects, and for `wake` sends the preface on every connection once told to. */
const ATTACKER = `
const net = require('node:net');
const [port, n, mode] = process.argv.slice(1);
const sockets = [];
let i = 0;
(function go() {
  for (let k = 0; k < 200 && i < Number(n); k++, i++) {
    const s = net.connect({ port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.2' });
    s.on('error', () => {});
    sockets.push(s);
  }
  if (i < Number(n)) setTimeout(go, 5);
})();
const preface = Buffer.concat([Buffer.from('PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
process.stdin.on('data', () => { if (mode === 'wake') for (const s of sockets) s.write(preface); });
`;

async function runCase(c: Case): Promise<Result> {
  const [{ LedgerEngine }, { startLedgerServer }, { default: pino }] = await Promise.all([
    import(`${c.root}/dist/src/engine/ledger-engine.js`),
    import(`${c.root}/dist/src/server/ledger-server.js`),
    import('pino'),
  ]);
  const engine = await LedgerEngine.open({});
  const server = await startLedgerServer({
    host: '127.0.0.1',
    port: 0,
    engine,
    logger: pino({ level: 'fatal' }),
    transport: { sessionsPerTurn: c.sessionsPerTurn },
  });
  const gc = (globalThis as { gc?: () => void }).gc!;
  const { PerformanceObserver } = await import('node:perf_hooks');
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await sleep(200);
  gc();
  gc();
  const before = process.memoryUsage();

  const gcPausesMs: number[] = [];
  let measuring = false;
  new PerformanceObserver((list) => {
    if (measuring) for (const e of list.getEntries()) gcPausesMs.push(e.duration);
  }).observe({ entryTypes: ['gc'] });
  // Wall-clock lateness counts the time other processes had the core too; the process's CPU time
  // between two ticks does not, so it is what the server itself held the loop for (GC helper
  // threads included).
  let last = performance.now();
  let lastCpu = process.cpuUsage();
  let maxLoopStallMs = 0;
  let maxBusyMs = 0;
  let stallsOver5Ms = 0;
  const probe = setInterval(() => {
    const now = performance.now();
    const cpuNow = process.cpuUsage();
    const late = now - last - 1;
    const busy = (cpuNow.user + cpuNow.system - lastCpu.user - lastCpu.system) / 1_000;
    last = now;
    lastCpu = cpuNow;
    if (!measuring) return;
    maxLoopStallMs = Math.max(maxLoopStallMs, late);
    maxBusyMs = Math.max(maxBusyMs, busy);
    if (busy > 5) stallsOver5Ms++;
  }, 1);
  const attacker = spawn(
    'nice',
    ['-n', '19', process.execPath, '-e', ATTACKER, String(server.port), String(c.connections), c.mode],
    { stdio: ['pipe', 'inherit', 'inherit'] },
  );
  const openTarget = server.connections.open + c.connections;
  const cpuBefore = process.cpuUsage();
  measuring = c.mode === 'idle';
  const deadline = performance.now() + 15_000;
  while (server.connections.open < openTarget && performance.now() < deadline) await sleep(5);
  let cpu = process.cpuUsage(cpuBefore);
  if (c.mode === 'wake') {
    await sleep(500);
    const wakeCpu = process.cpuUsage();
    last = performance.now();
    lastCpu = process.cpuUsage();
    measuring = true;
    attacker.stdin.write('go\n');
    await sleep(1_500);
    cpu = process.cpuUsage(wakeCpu);
  } else await sleep(300);
  measuring = false;
  clearInterval(probe);
  gc();
  gc();
  const after = process.memoryUsage();
  const open = server.connections.open;
  attacker.kill();
  await server.shutdown();
  const per = (x: number) => Math.round(x / c.connections);
  return {
    cpuUsPerConnection: per(cpu.user + cpu.system),
    heapBytesPerConnection: per(after.heapUsed - before.heapUsed),
    rssBytesPerConnection: per(after.rss - before.rss),
    maxLoopStallMs: Math.round(maxLoopStallMs * 10) / 10,
    maxBusyMs: Math.round(maxBusyMs * 10) / 10,
    stallsOver5Ms,
    gcPausesMs: gcPausesMs.map((ms) => Math.round(ms * 10) / 10),
    open,
  };
}

if (values.case !== undefined) {
  const result = await runCase(JSON.parse(values.case) as Case);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

const root = process.env.BENCH_SERVER_ROOT ?? fileURLToPath(new URL('../..', import.meta.url));
const connections = Number(values.connections);
const modes = values.modes.split(',') as Case['mode'][];
const perTurn = values['sessions-per-turn'].split(',').map(Number);
console.log(
  `session set-up bench: ${connections} connections from a niced process; server build ${root}; load average ${loadAverage()}`,
);
console.log(
  '| mode | sessions per turn | CPU per connection | heap / RSS per connection | longest stall: CPU / wall clock | CPU stalls > 5 ms | GC pauses (ms) | load |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (let round = 0; round < Number(values.rounds); round++) {
  for (const mode of modes) {
    for (const sessionsPerTurn of mode === 'idle' ? [perTurn[0]!] : perTurn) {
      const c: Case = { mode, connections, sessionsPerTurn, root };
      const child = spawn(
        process.execPath,
        ['--expose-gc', fileURLToPath(import.meta.url), '--case', JSON.stringify(c)],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
      });
      await new Promise((r) => child.once('exit', r));
      const r = JSON.parse(out) as Result;
      console.log(
        `| ${mode} | ${mode === 'idle' ? '-' : sessionsPerTurn} | ${r.cpuUsPerConnection} us | ${(r.heapBytesPerConnection / 1024).toFixed(1)} / ${(r.rssBytesPerConnection / 1024).toFixed(1)} KiB | ${r.maxBusyMs} / ${r.maxLoopStallMs} ms | ${r.stallsOver5Ms} | ${r.gcPausesMs.join(', ') || 'none'} | ${loadAverage()} |`,
      );
    }
  }
}
