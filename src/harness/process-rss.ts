import { readFileSync } from 'node:fs';

/** Resident memory of a process; `fileBytes` are mapped file pages (LMDB's), which the OS can evict. */
export interface ProcessMemory {
  rssBytes: number;
  anonBytes: number;
  fileBytes: number;
}

/**
 * Fields of /proc/<pid>/status that are in kB (VmRSS, RssAnon, VmHWM, ...), in bytes; undefined
 * where that file is not readable (another OS, or the process is gone), a field missing from it
 * is absent from the result.
 */
export function procStatusBytes(
  pid: number | 'self',
  fields: readonly string[],
): Partial<Record<string, number>> | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const found: Partial<Record<string, number>> = {};
  for (const field of fields) {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    if (match !== null) found[field] = Number(match[1]) * 1024;
  }
  return found;
}

/**
 * Resident memory of another process (Linux); undefined where it is not readable. Used for a
 * spawned server, whose memory is then measured apart from the load generator's.
 */
export function processMemory(pid: number): ProcessMemory | undefined {
  const status = procStatusBytes(pid, ['VmRSS', 'RssAnon', 'RssFile']);
  const rssBytes = status?.VmRSS;
  if (rssBytes === undefined) return undefined;
  return { rssBytes, anonBytes: status!.RssAnon ?? rssBytes, fileBytes: status!.RssFile ?? 0 };
}
