import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on every Linux ABI, whatever the kernel's HZ). */
const USER_HZ = 100;

/** A process's user + system CPU so far, in ms, from /proc/<pid>/stat. */
export function processCpuMs(pid: number): number {
  return statCpuMs(`/proc/${pid}/stat`);
}

/** One thread's user + system CPU so far, in ms (a process's main thread: tid = pid). */
export function threadCpuMs(pid: number, tid: number): number {
  return statCpuMs(`/proc/${pid}/task/${tid}/stat`);
}

function statCpuMs(path: string): number {
  // utime and stime are fields 14 and 15 of the whole line; 12 and 13 after "pid (comm) ".
  const fields = readFileSync(path, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

/** Every thread's user + system CPU so far, in ms, by thread id (the main thread's id is the pid). */
export function threadsCpuMs(pid: number): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      out.set(Number(tid), threadCpuMs(pid, Number(tid)));
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** The 1, 5 and 15 minute load averages as /proc/loadavg prints them ("0.62 1.28 1.55"). */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}
