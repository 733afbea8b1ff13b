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
  return [value, { serverUs: cpu(s1) - cpu(s0), clientUs: c1.user + c1.system, wallMs }];
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
  const dataDir = kind === 'durable' ? mkdtempSync(join(tmpdir(), 'ledger-batch-bench-')) : undefined;
  const log = (line: string) => console.error(`[batch-bench] ${line}`);
  const server = await ServerProcess.start(kind, values.profile, dataDir);
  const client = new LedgerClient(server.target, { deadlineMs: 60_000 });
  const raw = rawBatchCaller(server.target);
  const tag = `b${Date.now().toString(36)}`;
  let sent = 0;
  let batchNo = 0;
  const rows: string[] = [];
  try {
    const setup = await client.executeBatch(
      ids.map((id) => ({ kind: 'create', accountId: id.toString(), initialBalance: INITIAL_BALANCE })),
    );
    if (!setup.value.every((r) => r.ok)) throw new Error('setup failed');

    // Warm-up: JIT and LMDB pages.
    for (let i = 0; i < 20; i++) {
      await raw.call(encodeBatch(tag, batchNo++, 1000, linkedShare));
      sent += 1000;
    }

    for (const size of sizes) {
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
      sent += transfers;
      const rate = (transfers / w.wallMs) * 1000;
      const lat = summarizeUs(histogram);
      rows.push(
        `| closed loop, ${concurrency} batches of ${size} in flight | ${Math.round(rate).toLocaleString('en-US')} transfers/s | ` +
          `${(w.serverUs / transfers).toFixed(2)} us | ${(w.clientUs / transfers).toFixed(2)} us | ` +
          `${(lat.p50 / 1000).toFixed(1)} / ${(lat.p99 / 1000).toFixed(1)} ms |`,
      );
      log(rows[rows.length - 1]!);
    }

    // Open loop: a steady rate of batches, latency from each batch's scheduled time.
    const rate = Number(values['open-rate']);
    const openSize = Number(values['open-size']);
    const openSeconds = Number(values['open-seconds']);
    const histogram = newHistogramUs();
    const total = rate * openSeconds;
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
    // Failed batches may or may not have committed: the final check counts the log instead.
    const lat = summarizeUs(histogram);
    if (failed > 0) log(`open loop: ${failed} of ${total} batches failed (${firstFailure})`);
    rows.push(
      `| open loop, ${rate} batches/s of ${openSize} | ${Math.round(((total * openSize) / w.wallMs) * 1000).toLocaleString('en-US')} transfers/s | ` +
        `${(w.serverUs / (total * openSize)).toFixed(2)} us | ${(w.clientUs / (total * openSize)).toFixed(2)} us | ` +
        `${(lat.p50 / 1000).toFixed(1)} / ${(lat.p99 / 1000).toFixed(1)} ms (max ${(lat.max / 1000).toFixed(1)})${failed > 0 ? `; ${failed} of ${total} batches failed` : ''} |`,
    );
    log(rows[rows.length - 1]!);

    // Memory: the server's peak heap above a forced-GC baseline while one full batch is in flight.
    const big = encodeBatch(tag, batchNo++, 8190, 0);
    const peaks: number[] = [];
    for (let i = 0; i < 3; i++) {
      const base = await server.watchHeap();
      await raw.call(i === 0 ? big : encodeBatch(tag, batchNo++, 8190, 0));
      const after = await server.cpu();
      peaks.push(after.heapPeakBytes - base.heapPeakBytes);
      sent += 8190;
    }
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    rows.push(
      `| one batch of 8,190 in flight (request ${mib(big.length)} MiB) | peak heap above baseline: ${peaks.map(mib).join(' / ')} MiB | | | |`,
    );

    const snapshot = (await client.getSnapshot(false)).value;
    const openCommitted = Number(snapshot.logPosition) - (ACCOUNTS + sent);
    sent += openCommitted;
    const expected = BigInt(ACCOUNTS + sent);
    const conserved = snapshot.totalBalance === BigInt(ACCOUNTS) * INITIAL_BALANCE;
    const openOk = openCommitted >= (total - failed) * openSize && openCommitted <= total * openSize;
    const verdict =
      snapshot.logPosition === expected && conserved && openOk
        ? `verified: log position ${snapshot.logPosition} = ${ACCOUNTS} creates + ${sent} transfers (open loop: ${openCommitted} of ${total * openSize} committed); total conserved`
        : `MISMATCH: log position ${snapshot.logPosition}, expected ${expected}; total conserved: ${conserved}`;
    const m = machineInfo();
    console.log(
      `storage: ${kind === 'durable' ? 'LMDB (acknowledged after flush)' : 'memory'}; ${JSON.stringify(m)}`,
    );
    console.log(
      '| run | rate | server CPU / transfer | generator CPU / transfer | batch latency p50 / p99 |',
    );
    console.log('|---|---|---|---|---|');
    for (const row of rows) console.log(row);
    console.log(verdict);
  } finally {
    raw.close();
    client.close();
    await server.stop();
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
