import * as fs from 'node:fs';
import { DATA_FILE } from '../src/engine/lmdb-storage.js';
import { procStatusBytes } from '../src/harness/process-rss.js';
import { forceGc } from './force-gc.js';

const MB = 2 ** 20;

/** Memory of this process in MB. RSS splits into anonymous pages and mapped file pages (LMDB's map). */
export interface MemoryReport {
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  arrayBuffersMb: number;
  rssMb: number;
  rssAnonMb: number;
  rssFileMb: number;
  rssShmemMb: number;
  /** Peak RSS of the process so far (VmHWM). */
  rssPeakMb: number;
  /**
   * The part of RSS that is pages of the LMDB data file (smaps). It can exceed the file's size:
   * lmdb-js keeps its old maps when it grows the map, and a page resident in two maps counts twice.
   */
  rssDataFileMb: number;
  dataFileMappings: number;
}

export function memoryReport(): MemoryReport {
  const usage = process.memoryUsage();
  // Linux only: NaN elsewhere, so nobody mistakes it for 0.
  const status = procStatusBytes('self', ['RssAnon', 'RssFile', 'RssShmem', 'VmHWM']) ?? {};
  const mb = (field: string) => round((status[field] ?? Number.NaN) / MB);
  const dataFile = mappedFile(`/${DATA_FILE}`);
  return {
    heapUsedMb: round(usage.heapUsed / MB),
    heapTotalMb: round(usage.heapTotal / MB),
    externalMb: round(usage.external / MB),
    arrayBuffersMb: round(usage.arrayBuffers / MB),
    rssMb: round(usage.rss / MB),
    rssAnonMb: mb('RssAnon'),
    rssFileMb: mb('RssFile'),
    rssShmemMb: mb('RssShmem'),
    rssPeakMb: mb('VmHWM'),
    rssDataFileMb: round(dataFile.rssKb / 1024),
    dataFileMappings: dataFile.mappings,
  };
}

/** Heap after a full GC; RSS after idling a moment, since V8 and malloc return pages lazily. */
export async function settledMemory(settleMs = 2_000): Promise<MemoryReport> {
  fullGc();
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  fullGc();
  return memoryReport();
}

export function fullGc(): void {
  // Children run with --expose-gc; forceGc covers a process started without it.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    forceGc();
    return;
  }
  gc();
  gc();
}

/** Resident kB and count of the mappings of files whose path ends with `suffix` (NaN without /proc). */
function mappedFile(suffix: string): { rssKb: number; mappings: number } {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return { rssKb: Number.NaN, mappings: Number.NaN };
  }
  let inFile = false;
  let rssKb = 0;
  let mappings = 0;
  for (const line of text.split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping !== null) {
      inFile = mapping[1]!.endsWith(suffix);
      if (inFile) mappings++;
    } else if (inFile && line.startsWith('Rss:')) rssKb += Number(/(\d+) kB/.exec(line)?.[1] ?? 0);
  }
  return { rssKb, mappings };
}

const round = (value: number): number => Math.round(value * 10) / 10;
