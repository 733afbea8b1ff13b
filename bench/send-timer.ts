import { PreciseTimer } from '../src/harness/precise-timer.js';

/**
 * How late an open-loop send wakes with each way of waiting, with nothing else on the loop:
 * 1,000 waits of 2 ms (500/s) each. setTimeout (libuv: whole milliseconds), the timer thread
 * (futex wait, wakes the loop through a MessagePort: what run-group.ts uses), and the timer
 * thread woken 0.2 ms early then polling with setImmediate (more precise, burns CPU meanwhile).
 * Lateness is actual wake minus due time, in microseconds; CPU is this process's.
 *
 * node dist/bench/send-timer.js [--waits 1000] [--gap-ms 2]
 */
const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(name);
  return i < 0 ? fallback : Number(process.argv[i + 1]);
};
const waits = arg('--waits', 1_000);
const gapMs = arg('--gap-ms', 2);
const timer = new PreciseTimer();

const poll = (atMs: number) =>
  new Promise<void>((resolve) => {
    const check = () => (performance.now() >= atMs ? resolve() : setImmediate(check));
    check();
  });

const ways: [string, (atMs: number) => Promise<void>][] = [
  [
    'setTimeout',
    (atMs) => new Promise((resolve) => setTimeout(resolve, Math.max(0, atMs - performance.now()))),
  ],
  ['timer thread', (atMs) => timer.sleepUntil(performance.timeOrigin + atMs)],
  [
    'timer thread -0.2 ms + setImmediate poll',
    async (atMs) => {
      await timer.sleepUntil(performance.timeOrigin + atMs - 0.2);
      await poll(atMs);
    },
  ],
];

for (const [name, wait] of ways) {
  const lateUs: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < waits; i++) {
    const atMs = performance.now() + gapMs;
    await wait(atMs);
    lateUs.push((performance.now() - atMs) * 1_000);
  }
  const cpu = process.cpuUsage(cpu0);
  lateUs.sort((a, b) => a - b);
  const at = (q: number) => lateUs[Math.min(lateUs.length - 1, Math.floor(q * lateUs.length))]!.toFixed(0);
  console.log(
    `${name}: lateness p50 ${at(0.5)} us, p90 ${at(0.9)} us, p99 ${at(0.99)} us; CPU ${((cpu.user + cpu.system) / waits).toFixed(0)} us per wait`,
  );
}
await timer.close();
