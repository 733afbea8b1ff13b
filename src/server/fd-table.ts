import { closeSync, openSync, readFileSync } from 'node:fs';

/** What `reserveFdTable` did; slots are the kernel's FDSize (descriptors the table holds without growing). */
export interface FdTableReservation {
  slotsBefore: number;
  slotsAfter: number;
  /** The open-files limit (EMFILE) or the system's (ENFILE) stopped it short of the slots asked for. */
  stoppedBy?: 'EMFILE' | 'ENFILE';
  ms: number;
}

/**
 * Grows this process's file-descriptor table now, at start, to hold `slots` descriptors, so that
 * accepting connections later never has to grow it.
 *
 * Linux grows a process's descriptor table by doubling it (64, 128, 256, ... slots) when a new
 * descriptor does not fit, and in a multi-threaded process (every Node process: V8's and libuv's
 * threads share the table) it waits for an RCU grace period first (`expand_files` ->
 * `synchronize_rcu`): the thread sleeps, uninterruptible, 9-23 ms measured on the 2-vCPU test VM, with the
 * CPU idle. For a server that thread is the event loop, in `accept4`: a flood of connects grows
 * the table each time the open descriptors pass 256, 512, 1,024..., and each growth holds every established
 * client's calls for a grace period (seen with `perf record -g -e sched:sched_switch --filter
 * 'prev_state == 2'`: `accept4 -> alloc_fd -> expand_files -> synchronize_rcu_normal`, exactly
 * where the idle-connection abuse's slowest sentinel calls fell; BENCHMARKS.md, "Abuse, fifth
 * pass"). Tables never shrink, so growing it once at start, before anything is accepted, takes
 * those waits out of the serving path.
 *
 * It opens /dev/null until a descriptor lands at `slots - 1` (the kernel hands out the lowest free
 * one, so the table fills and grows as accept would grow it), then closes them all. Linux only
 * (FDSize in /proc/self/status); elsewhere it returns undefined and does nothing.
 */
export function reserveFdTable(slots: number): FdTableReservation | undefined {
  if (process.platform !== 'linux') return undefined;
  const slotsBefore = fdTableSlots('self');
  if (slotsBefore === undefined) return undefined;
  const start = performance.now();
  let stoppedBy: FdTableReservation['stoppedBy'];
  if (slotsBefore < slots) {
    const fds: number[] = [];
    try {
      for (;;) {
        const fd = openSync('/dev/null', 'r');
        fds.push(fd);
        if (fd >= slots - 1) break;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EMFILE' && code !== 'ENFILE') throw err;
      stoppedBy = code;
    } finally {
      for (const fd of fds) closeSync(fd);
    }
  }
  return {
    slotsBefore,
    slotsAfter: fdTableSlots('self') ?? slotsBefore,
    ...(stoppedBy === undefined ? {} : { stoppedBy }),
    ms: performance.now() - start,
  };
}

/** A process's descriptor table size (FDSize in /proc/<pid>/status), or undefined without /proc. */
export function fdTableSlots(pid: number | 'self'): number | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const match = /^FDSize:\s+(\d+)$/m.exec(status);
  return match === null ? undefined : Number(match[1]);
}
