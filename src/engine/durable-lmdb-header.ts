import * as fs from 'node:fs';
import { DataDirError } from './durable-errors.js';

/*
 * LMDB trusts its file: a damaged meta page or a truncated file makes it crash the process
 * (SIGSEGV / SIGBUS) instead of returning an error. So before LMDB maps the file we check what
 * it would trust first: the two meta pages (magic, data version, page size) and that the newest
 * one's last used page lies inside the file. Offsets are those of the LMDB build inside lmdb-js
 * 3.x (64-bit, 24-byte page header); the durable tests pin them.
 */
const MAGIC = 0xbeefc0de;
const DATA_VERSION = 2;
const PAGE_HEADER_BYTES = 24;
const META = {
  magic: PAGE_HEADER_BYTES,
  version: PAGE_HEADER_BYTES + 4,
  /** The free-list DB's md_pad holds the page size. */
  pageSize: PAGE_HEADER_BYTES + 24,
  lastPage: PAGE_HEADER_BYTES + 120,
  txnId: PAGE_HEADER_BYTES + 128,
  end: PAGE_HEADER_BYTES + 136,
} as const;
const FIRST_PAGE_BYTES = 4096;

interface Meta {
  pageSize: number;
  lastPage: bigint;
  txnId: bigint;
}

/** Throws DataDirError('corrupt') unless the file looks safe for LMDB to open. Reads only. */
export function checkLmdbFile(dataDir: string, file: string): void {
  const corrupt = (why: string) =>
    new DataDirError('corrupt', dataDir, `data file ${file} is damaged (${why}); refusing to open it`);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    throw new DataDirError('io', dataDir, `data dir ${dataDir}: ${(err as Error).message}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 2 * FIRST_PAGE_BYTES) throw corrupt(`only ${size} bytes`);
    const first = readMeta(fd, 0);
    if (first === undefined) throw corrupt('first meta page is not an LMDB meta page');
    const second = readMeta(fd, first.pageSize);
    const metas = [first, second].filter((m): m is Meta => m !== undefined && m.pageSize === first.pageSize);
    const newest = metas.reduce((a, b) => (b.txnId > a.txnId ? b : a));
    const neededBytes = (newest.lastPage + 1n) * BigInt(first.pageSize);
    if (BigInt(size) < neededBytes) throw corrupt(`truncated: ${size} bytes, needs ${neededBytes}`);
  } finally {
    fs.closeSync(fd);
  }
}

function readMeta(fd: number, offset: number): Meta | undefined {
  const buf = Buffer.alloc(META.end);
  if (fs.readSync(fd, buf, 0, META.end, offset) < META.end) return undefined;
  if (buf.readUInt32LE(META.magic) !== MAGIC || buf.readUInt32LE(META.version) !== DATA_VERSION)
    return undefined;
  const pageSize = buf.readUInt32LE(META.pageSize);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return undefined;
  return { pageSize, lastPage: buf.readBigUInt64LE(META.lastPage), txnId: buf.readBigUInt64LE(META.txnId) };
}

/** Page flags of the LMDB build in lmdb-js 3.x (mdb.c). */
const PAGE_FLAGS = {
  branch: 0x01,
  leaf: 0x02,
  overflow: 0x04,
  meta: 0x08,
  leaf2: 0x20,
  subPage: 0x40,
} as const;
const KNOWN_FLAGS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x4000 | 0x8000;
const SCAN_CHUNK_BYTES = 4 * 2 ** 20;
/** Page header of that build: pgno u64, txnid u64, pad u16, flags u16, lower/upper u16 (or pages u32). */
const PAGE_FLAGS_OFFSET = 18;
const OVERFLOW_PAGES_OFFSET = 20;

export interface PageScan {
  pages: number;
  overflowPages: number;
  durationMs: number;
}

/**
 * Reads every page header of the file up to the newest meta page's last page, without LMDB: each
 * page must carry its own page number and known flags (an overflow run is skipped by its length).
 * A zeroed or overwritten page fails this, and those are what make liblmdb abort the process when
 * it reads them; the scan is a sequential read, seconds for gigabytes. Damage inside a page that
 * leaves its header intact is left to the record checksums. Throws DataDirError('corrupt').
 */
export function scanLmdbPages(dataDir: string, file: string): PageScan {
  const started = performance.now();
  const corrupt = (why: string) =>
    new DataDirError('corrupt', dataDir, `data file ${file} is damaged (${why}); refusing to open it`);
  const fd = fs.openSync(file, 'r');
  try {
    const first = readMeta(fd, 0);
    if (first === undefined) throw corrupt('first meta page is not an LMDB meta page');
    const second = readMeta(fd, first.pageSize);
    const metas = [first, second].filter((m): m is Meta => m !== undefined && m.pageSize === first.pageSize);
    const { pageSize, lastPage } = metas.reduce((a, b) => (b.txnId > a.txnId ? b : a));
    const last = Number(lastPage);
    const chunk = Buffer.alloc(Math.max(SCAN_CHUNK_BYTES - (SCAN_CHUNK_BYTES % pageSize), pageSize));
    let overflowPages = 0;
    let page = 2;
    while (page <= last) {
      const pagesInChunk = Math.min(chunk.length / pageSize, last - page + 1);
      const read = fs.readSync(fd, chunk, 0, pagesInChunk * pageSize, page * pageSize);
      if (read < pagesInChunk * pageSize)
        throw corrupt(`truncated at page ${page + Math.floor(read / pageSize)}`);
      let i = 0;
      while (i < pagesInChunk) {
        const offset = i * pageSize;
        const pgno = chunk.readUInt32LE(offset) + chunk.readUInt32LE(offset + 4) * 2 ** 32;
        const flags = chunk.readUInt16LE(offset + PAGE_FLAGS_OFFSET);
        if (pgno !== page + i || (flags & ~KNOWN_FLAGS) !== 0 || (flags & PAGE_FLAGS.meta) !== 0) {
          throw corrupt(`page ${page + i} has a damaged header`);
        }
        if ((flags & PAGE_FLAGS.overflow) !== 0) {
          // The pages after an overflow page's first one hold value bytes, no header.
          const run = chunk.readUInt32LE(offset + OVERFLOW_PAGES_OFFSET);
          if (run < 1 || page + i + run - 1 > last) throw corrupt(`page ${page + i} has a damaged header`);
          overflowPages += run;
          i += run;
        } else if ((flags & (PAGE_FLAGS.branch | PAGE_FLAGS.leaf | PAGE_FLAGS.leaf2)) === 0) {
          throw corrupt(`page ${page + i} has a damaged header`);
        } else i++;
      }
      page += i;
    }
    return { pages: last + 1, overflowPages, durationMs: performance.now() - started };
  } finally {
    fs.closeSync(fd);
  }
}
