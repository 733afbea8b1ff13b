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
