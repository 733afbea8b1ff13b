import { readFileSync } from 'node:fs';

/** Resident memory of a process; `fileBytes` are mapped file pages (LMDB's), which the OS can evict. */
export interface ProcessMemory {
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
}

const kib = (status: string, field: string): number | undefined => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
  return match === null ? undefined : Number(match[1]) * 1024;
};

/**
 * Resident memory of another process, from /proc/<pid>/status (Linux); undefined where that is
 * not readable (another OS, or the process is gone). Used for a spawned server, whose memory is
 * then measured apart from the load generator's.
 */
export function processMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const rssBytes = kib(status, 'VmRSS');
  if (rssBytes === undefined) return undefined;
  return { rssBytes, anonBytes: kib(status, 'RssAnon') ?? rssBytes, fileBytes: kib(status, 'RssFile') ?? 0 };
}
