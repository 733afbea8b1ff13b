import { readFileSync } from 'node:fs';

/** Linux reports thread CPU time in clock ticks; USER_HZ is 100 on every mainstream build. */
const MS_PER_TICK = 10;

/**
 * CPU time (user + system) of the calling thread in milliseconds, 10 ms resolution, or undefined
 * off Linux. Node 20 has no per-thread CPU clock (`process.cpuUsage()` sums every thread), so
 * telling the load generator's CPU from the in-process server's needs /proc/thread-self, which
 * names whichever thread reads it.
 */
export function threadCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    // Fields after the parenthesised command name (which may hold spaces): utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * MS_PER_TICK : undefined;
  } catch {
    return undefined;
  }
}
