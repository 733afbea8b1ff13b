import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { LedgerClient } from '../src/client/ledger-client.js';
import { ACCOUNTS, BatchTemplates, encodeBatch, INITIAL_BALANCE, ids } from './batch-request.js';
import { newHistogramUs, summarizeUs } from './histogram.js';
import { machineInfo } from './report.js';
import type { CpuSample, ServerKind } from './server-child.js';
import { ServerProcess } from './server-process.js';

/**
 * ExecuteBatch throughput and latency through gRPC: the server in its own process (in memory or
 * on LMDB), this process the load generator. Requests are encoded by hand here (not with the
 * product's protobuf code) before the timed windows, as templates of which every batch sent is a
 * copy with its own batch number in each transaction id (batch-request.ts: BatchTemplates), and
 * responses are not decoded: every transfer's success is checked once at the end from the snapshot
 * (log position and total), which keeps the generator's CPU per transfer small (it shares the
 * machine with the server). Both processes' CPU is reported.
 */

const USAGE = `usage: node dist/bench/batch-bench.js [--storage memory|durable] [--sizes 1000,8190]
       [--concurrency N] [--seconds S] [--open-rate N] [--open-size N] [--open-seconds S]
       [--linked-share F] [--profile DIR]`;

type RawCall = (body: Buffer) => Promise<number>;

function rawBatchCaller(target: string): { call: RawCall; close(): void } {
  const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
  });
  const call: RawCall = (body) =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        '/ledger.v1.Ledger/ExecuteBatch',
        (b: Buffer) => b,
        (b: Buffer) => b,
        body,
        (err, response) => (err ? reject(err) : resolve(response!.length)),
      );
    });
  return { call, close: () => client.close() };
}

interface Window {
  serverUs: number;
  clientUs: number;
  wallMs: number;
  /** The server's event-loop delay over the window (its own stalls plus time without a CPU). */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Times per second the kernel took the CPU away from the server. */
  involuntarySwitchesPerS: number;
}

async function measureWindow<T>(server: ServerProcess, work: () => Promise<T>): Promise<[T, Window]> {
  const s0 = await server.cpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const wallMs = performance.now() - t0;
  const c1 = process.cpuUsage(c0);
  const s1 = await server.cpu();
  const cpu = (s: CpuSample) => s.userUs + s.systemUs;
  return [
    value,
    {
      serverUs: cpu(s1) - cpu(s0),
      clientUs: c1.user + c1.system,
      wallMs,
      loopDelayP99Ms: s1.loopDelayP99Ms,
      loopDelayMaxMs: s1.loopDelayMaxMs,
      involuntarySwitchesPerS: ((s1.involuntarySwitches - s0.involuntarySwitches) / wallMs) * 1000,
    },
  ];
}

/** How long the server's loop was held up, and how often the kernel took its CPU away (a shared machine). */
function serverStalls(w: Window): string {
  return (
    `${w.loopDelayP99Ms.toFixed(1)} / ${w.loopDelayMaxMs.toFixed(1)} ms; ` +
    `${Math.round(w.involuntarySwitchesPerS).toLocaleString('en-US')} involuntary switches/s`
  );
}

/** One server of the run: each phase gets a fresh one (see main). */
interface Phase {
  server: ServerProcess;
  raw: { call: RawCall; close(): void };
  /** Transfers sent that must each have committed (closed loops, warm-up, memory). */
  sent: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      storage: { type: 'string', default: 'memory' },
      sizes: { type: 'string', default: '1000,8190' },
      concurrency: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '8' },
      'open-rate': { type: 'string', default: '100' },
      'open-size': { type: 'string', default: '1000' },
      'open-seconds': { type: 'string', default: '10' },
      'linked-share': { type: 'string', default: '0' },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const kind: ServerKind = values.storage === 'durable' ? 'durable' : 'real';
  const sizes = values.sizes.split(',').map(Number);
  const concurrency = Number(values.concurrency);
  const seconds = Number(values.seconds);
  const linkedShare = Number(values['linked-share']);
  const log = (line: string) => console.error(`[batch-bench] ${line}`);
  const tag = `b${Date.now().toString(36)}`;
  let batchNo = 0;
  const rows: string[] = [];
  const verdicts: string[] = [];

  /**
   * Runs one phase on a server of its own (set up, warmed up, checked after): at 150,000+
   * transfers/s one long-lived server would reach its cap of transaction ids held for their TTL
   * (LIMITS.defaultMaxTxids, 2,000,000) within the run and refuse the rest, which is not what a
   * phase measures. `openRange`: for the open loop, how many of its transfers may have committed.
   */
  async function phase(
    name: string,
    work: (p: Phase) => Promise<[number, number] | undefined>,
  ): Promise<void> {
    const dataDir = kind === 'durable' ? mkdtempSync(join(tmpdir(), 'ledger-batch-bench-')) : undefined;
    const server = await ServerProcess.start(kind, values.profile, dataDir);
    const client = new LedgerClient(server.target, { deadlineMs: 60_000 });
    const p: Phase = { server, raw: rawBatchCaller(server.target), sent: 0 };
    try {
      const setup = await client.executeBatch(
        ids.map((id) => ({ kind: 'create', accountId: id.toString(), initialBalance: INITIAL_BALANCE })),
      );
      if (!setup.value.every((r) => r.ok)) throw new Error('setup failed');
      // Warm-up: JIT and LMDB pages.
      for (let i = 0; i < 20; i++) {
        await p.raw.call(encodeBatch(tag, batchNo++, 1000, linkedShare));
        p.sent += 1000;
      }
      const openRange = await work(p);
      const snapshot = (await client.getSnapshot(false)).value;
      const committed = Number(snapshot.logPosition) - ACCOUNTS - p.sent;
      const [low, high] = openRange ?? [0, 0];
      const conserved = snapshot.totalBalance === BigInt(ACCOUNTS) * INITIAL_BALANCE;
      verdicts.push(
        committed >= low && committed <= high && conserved
          ? `${name}: verified, log position ${snapshot.logPosition} = ${ACCOUNTS} creates + ${p.sent} transfers${openRange === undefined ? '' : ` + ${committed} of the open loop's ${high}`}; total conserved`
          : `${name}: MISMATCH: log position ${snapshot.logPosition} for ${ACCOUNTS} creates + ${p.sent} transfers${openRange === undefined ? '' : ` + ${low}-${high} of the open loop`}; total conserved: ${conserved}`,
      );
    } finally {
      p.raw.close();
      client.close();
      await server.stop();
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
    }
  }

  for (const size of sizes) {
    await phase(`closed loop ${size}`, async (p) => {
      const { server, raw } = p;
      // Requests are encoded before the window (templates; each batch a copy with its own ids), so
      // the window measures the calls and the generator leaves the CPU to the server.
      const templates = new BatchTemplates(size, linkedShare, batchNo, `${tag}t${size}`);
      const deadline = performance.now() + seconds * 1000;
      let transfers = 0;
      const histogram = newHistogramUs();
      const [, w] = await measureWindow(server, async () => {
        const lane = async () => {
          let next = templates.next();
          while (performance.now() < deadline) {
            const body = next;
            const t0 = performance.now();
            const pending = raw.call(body);
            next = templates.next();
            await pending;
            histogram.recordValue(Math.round((performance.now() - t0) * 1000));
            transfers += size;
          }
        };
        await Promise.all(Array.from({ length: concurrency }, lane));
      });
      p.sent += transfers;
      const rate = (transfers / w.wallMs) * 1000;
      const lat = summarizeUs(histogram);
      rows.push(
        `| closed loop, ${concurrency} batches of ${size} in flight | ${Math.round(rate).toLocaleString('en-US')} transfers/s | ` +
          `${(w.serverUs / transfers).toFixed(2)} us | ${(w.clientUs / transfers).toFixed(2)} us | ` +
          `${(lat.p50 / 1000).toFixed(1)} / ${(lat.p99 / 1000).toFixed(1)} ms | ${serverStalls(w)} |`,
      );
      log(rows[rows.length - 1]!);
      return undefined;
    });
  }

  // Open loop: a steady rate of batches, latency from each batch's scheduled time.
  const rate = Number(values['open-rate']);
  const openSize = Number(values['open-size']);
  const total = rate * Number(values['open-seconds']);
  if (total > 0) {
    await phase('open loop', async ({ server, raw }) => {
      const histogram = newHistogramUs();
      let failed = 0;
      let firstFailure = '';
      const openTemplates = new BatchTemplates(openSize, linkedShare, 0, `${tag}o`);
      const bodies = Array.from({ length: total }, () => openTemplates.next());
      const [, w] = await measureWindow(server, async () => {
        const start = performance.now();
        const calls: Promise<void>[] = [];
        for (let i = 0; i < total; i++) {
          const due = start + (i * 1000) / rate;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          calls.push(
            raw.call(bodies[i]!).then(
              () => {
                histogram.recordValue(Math.round((performance.now() - due) * 1000));
              },
              (err: unknown) => {
                // Overload shows as failed calls (e.g. the server's request-body deadline), not a crash.
                failed++;
                firstFailure ||= err instanceof Error ? err.message : String(err);
              },
            ),
          );
        }
        await Promise.all(calls);
      });
      const lat = summarizeUs(histogram);
      if (failed > 0) log(`open loop: ${failed} of ${total} batches failed (${firstFailure})`);
      rows.push(
        `| open loop, ${rate} batches/s of ${openSize} | ${Math.round(((total * openSize) / w.wallMs) * 1000).toLocaleString('en-US')} transfers/s | ` +
          `${(w.serverUs / (total * openSize)).toFixed(2)} us | ${(w.clientUs / (total * openSize)).toFixed(2)} us | ` +
          `${(lat.p50 / 1000).toFixed(1)} / ${(lat.p99 / 1000).toFixed(1)} ms (max ${(lat.max / 1000).toFixed(1)})${failed > 0 ? `; ${failed} of ${total} batches failed` : ''} | ${serverStalls(w)} |`,
      );
      log(rows[rows.length - 1]!);
      // Failed batches may or may not have committed: the check counts the log instead.
      return [(total - failed) * openSize, total * openSize];
    });
  }

  // Memory: the server's peak heap above a forced-GC baseline while one full batch is in flight.
  await phase('memory', async (p) => {
    const peaks: number[] = [];
    let requestBytes = 0;
    for (let i = 0; i < 3; i++) {
      const body = encodeBatch(tag, batchNo++, 8190, 0);
      requestBytes = body.length;
      const base = await p.server.watchHeap();
      await p.raw.call(body);
      const after = await p.server.cpu();
      peaks.push(after.heapPeakBytes - base.heapPeakBytes);
      p.sent += 8190;
    }
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    rows.push(
      `| one batch of 8,190 in flight (request ${mib(requestBytes)} MiB) | peak heap above baseline: ${peaks.map(mib).join(' / ')} MiB | | | | |`,
    );
    return undefined;
  });

  const m = machineInfo();
  console.log(
    `storage: ${kind === 'durable' ? 'LMDB (acknowledged after flush)' : 'memory'}; ${JSON.stringify(m)}`,
  );
  console.log(
    '| run | rate | server CPU / transfer | generator CPU / transfer | batch latency p50 / p99 | server event-loop delay p99 / max; CPU taken away |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  for (const verdict of verdicts) console.log(verdict);
  if (verdicts.some((v) => v.includes('MISMATCH'))) process.exitCode = 1;
}

await main();
