/**
 * Where each sentinel call of an abuse-bench run spent its time, from a system-wide `perf record`
 * of the same run: the bench's BENCH_TRACE file (each call's start and latency, CLOCK_MONOTONIC)
 * lined up with the kernel's own timestamps of the call's packets (`tcp:tcp_probe`, in the
 * receiving socket) and the server's scheduling (`sched:sched_switch`, `sched:sched_wakeup`).
 * Each call splits into three hops:
 *
 *   send:   the call's start -> its request in the server's socket (the sentinel's own work)
 *   server: request in the server's socket -> answer in the sentinel's socket (the server: waking
 *           up, reading, answering; also any wait before it reads, which its own metrics never see)
 *   back:   answer in the sentinel's socket -> the call's end (the sentinel waking up, decoding)
 *
 * and for the server hop, how long the server's main thread ran, waited on a run queue (runnable,
 * no CPU) or slept, with the kernel stack of each uninterruptible sleep (state D) in it.
 *
 *   flock /tmp/bench.lock perf record -q -k mono -a -e sched:sched_switch -e sched:sched_wakeup \
 *     -e tcp:tcp_probe -e 'sched:sched_switch/call-graph=fp/' --filter 'prev_state == 2' -o /tmp/p.data \
 *     -- env BENCH_TRACE=/tmp/p node dist/bench/abuse-bench.js --only idle
 *   perf script -i /tmp/p.data -F comm,pid,tid,cpu,time,event,trace,ip,sym > /tmp/p.txt
 *   node dist/bench/sentinel-hops.js /tmp/p-idle.json /tmp/p.txt
 */
import { readFileSync } from 'node:fs';

interface TraceSample {
  t0Ns: number;
  us: number;
  phase: string;
}
interface Trace {
  abuseStartNs: number;
  serverPid: number;
  target: string;
  samples: TraceSample[];
}

const [tracePath, perfPath] = process.argv.slice(2);
if (tracePath === undefined || perfPath === undefined) {
  throw new Error('usage: sentinel-hops TRACE.json PERF_SCRIPT.txt');
}
const trace = JSON.parse(readFileSync(tracePath, 'utf8')) as Trace;
const serverPort = Number(trace.target.split(':').at(-1));
const origin = trace.abuseStartNs / 1e9;

/** Packets with data into a socket of the server's port (requests) or out of it (answers), by client port. */
const requests = new Map<number, number[]>();
const answers = new Map<number, number[]>();
/** The server main thread's state changes: [seconds, state]. */
const serverStates: [number, 'run' | 'wait' | 'sleep'][] = [];
/** Its uninterruptible sleeps: when, and the kernel frames below schedule(). */
const serverDSleeps: { t: number; frames: string[] }[] = [];

const EVENT = /^\s*(.+?)\s+(\d+)\/(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+(\S+):\s*(.*)$/;
let stackOf: string[] | undefined;
for (const line of readFileSync(perfPath, 'utf8').split('\n')) {
  const m = EVENT.exec(line);
  if (m === null) {
    // A callchain line of the event above: "ffffffff8120 expand_files".
    const frame = /^\s+[0-9a-f]+\s+(\S+)/.exec(line)?.[1];
    if (frame !== undefined && stackOf !== undefined && !/^(__)?schedule/.test(frame)) stackOf.push(frame);
    continue;
  }
  stackOf = undefined;
  const [, , , , , time, event, rest] = m;
  const t = Number(time);
  if (event === 'tcp:tcp_probe') {
    const p = /src=[\d.]+:(\d+) dest=[\d.]+:(\d+) .*data_len=(\d+)/.exec(rest!);
    if (p === null || p[3] === '0') continue;
    const [src, dest] = [Number(p[1]), Number(p[2])];
    // The probe fires in the receiving socket: src is its own port.
    if (src === serverPort) push(requests, dest, t);
    else if (dest === serverPort) push(answers, src, t);
  } else if (event === 'sched:sched_switch') {
    const s = /prev_pid=(\d+) .*prev_state=(\S+) ==> .*next_pid=(\d+)/.exec(rest!);
    if (s === null) continue;
    if (Number(s[1]) === trace.serverPid) {
      // A switch into state D is recorded twice, the second time with its callchain (the filtered
      // event), microseconds apart: one state change, one sleep, the frames from whichever has them.
      const last = serverStates.at(-1);
      const duplicate = last !== undefined && last[1] !== 'run' && t - last[0] < 1e-4;
      if (!duplicate) serverStates.push([t, s[2]!.startsWith('R') ? 'wait' : 'sleep']);
      if (s[2] === 'D') {
        const sleep = serverDSleeps.at(-1);
        if (sleep !== undefined && t - sleep.t < 1e-4) stackOf = sleep.frames;
        else {
          serverDSleeps.push({ t, frames: [] });
          stackOf = serverDSleeps.at(-1)!.frames;
        }
      }
    }
    if (Number(s[3]) === trace.serverPid) serverStates.push([t, 'run']);
  } else if (event === 'sched:sched_wakeup') {
    if (Number(/ pid=(\d+) /.exec(rest!)?.[1]) === trace.serverPid) serverStates.push([t, 'wait']);
  }
}
function push(map: Map<number, number[]>, key: number, t: number): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [t]);
  else list.push(t);
}
// The sentinel's connection: the client port with the most requests.
const sentinelPort = [...requests.entries()].sort((a, b) => b[1].length - a[1].length)[0]?.[0];
if (sentinelPort === undefined)
  throw new Error('no tcp:tcp_probe data packets to the server in the perf script');
const req = requests.get(sentinelPort)!;
const ans = answers.get(sentinelPort) ?? [];

/** First time in the sorted list at or after t0, if before t1. */
function firstIn(list: number[], t0: number, t1: number): number | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! < t0) lo = mid + 1;
    else hi = mid;
  }
  const t = list[lo];
  return t !== undefined && t <= t1 ? t : undefined;
}

function serverTime(t0: number, t1: number): { run: number; wait: number; sleep: number } {
  const out = { run: 0, wait: 0, sleep: 0 };
  let state: 'run' | 'wait' | 'sleep' = 'sleep';
  let at = t0;
  for (const [t, s] of serverStates) {
    if (t <= t0) {
      state = s;
      continue;
    }
    if (t >= t1) break;
    out[state] += t - at;
    at = t;
    state = s;
  }
  out[state] += t1 - at;
  return out;
}

/** When the server's main thread next ran after t. */
function wokeAt(t: number): number {
  return serverStates.find(([at, state]) => at > t && state === 'run')?.[0] ?? Number.POSITIVE_INFINITY;
}

interface Hops {
  sample: TraceSample;
  send: number;
  server: number;
  back: number;
  t0: number;
  reqAt: number;
  ansAt: number;
}
const hops: Hops[] = [];
for (const sample of trace.samples) {
  const t0 = sample.t0Ns / 1e9;
  const t1 = t0 + sample.us / 1e6;
  const reqAt = firstIn(req, t0, t1);
  const ansAt = reqAt === undefined ? undefined : firstIn(ans, reqAt, t1);
  if (reqAt === undefined || ansAt === undefined) continue;
  hops.push({ sample, send: reqAt - t0, server: ansAt - reqAt, back: t1 - ansAt, t0, reqAt, ansAt });
}

const ms = (s: number) => (s * 1e3).toFixed(2);
const pct = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};
console.log(
  `sentinel port ${sentinelPort}, server port ${serverPort}: ${hops.length} of ${trace.samples.length} calls matched to their packets`,
);
for (const phase of ['idle', 'abuse', 'after']) {
  const xs = hops.filter((h) => h.sample.phase === phase);
  if (xs.length === 0) continue;
  const line = (name: string, f: (h: Hops) => number) =>
    `${name} p50 ${ms(pct(xs.map(f), 0.5))} / p99 ${ms(pct(xs.map(f), 0.99))}`;
  console.log(
    `${phase} (n=${xs.length}) ms: ${line('total', (h) => h.sample.us / 1e6)}; ${line('send', (h) => h.send)}; ${line('server', (h) => h.server)}; ${line('back', (h) => h.back)}`,
  );
  for (const h of [...xs].sort((a, b) => b.sample.us - a.sample.us).slice(0, 5)) {
    const st = serverTime(h.reqAt, h.ansAt);
    const sleeps = serverDSleeps
      .filter((d) => d.t <= h.ansAt && wokeAt(d.t) >= h.reqAt)
      .map(
        (d) =>
          `asleep (D) +${ms(d.t - origin)} to +${ms(wokeAt(d.t) - origin)} in ${d.frames.slice(0, 5).join(' < ')}`,
      );
    console.log(
      `  +${ms(h.t0 - origin)}: ${(h.sample.us / 1e3).toFixed(2)} ms = send ${ms(h.send)} + server ${ms(h.server)} (its main thread: ran ${ms(st.run)}, run queue ${ms(st.wait)}, asleep ${ms(st.sleep)}) + back ${ms(h.back)}${sleeps.length > 0 ? `; ${sleeps.join('; ')}` : ''}`,
    );
  }
}
