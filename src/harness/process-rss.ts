import { readFileSync } from 'node:fs';

/**
 * Resident set size of another process, from /proc/<pid>/status (Linux); undefined where that is
 * not readable (another OS, or the process is gone). Used for a spawned server, whose memory is
 * then measured apart from the load generator's.
 */
export function processRssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? undefined : Number(match[1]) * 1024;
  } catch {
    return undefined;
  }
}
