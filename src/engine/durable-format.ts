import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataDirError } from './durable-errors.js';

/**
 * The on-disk format version. Bump it whenever a key or value layout changes; a binary refuses
 * data dirs whose version is newer than it knows (it cannot know what the newer one means).
 */
export const DURABLE_FORMAT_VERSION = 2;
/** Versions this ledgerctl migrates from (durable-migrate.ts) the first time it opens them. */
export const MIGRATABLE_FORMAT_VERSIONS: readonly number[] = [1];

/** Small JSON marker read before anything else is opened, so a refusal touches nothing. */
export const FORMAT_FILE = 'FORMAT';
const FORMAT_TAG = 'ledgerctl-data';

interface FormatMarker {
  format: string;
  version: number;
  engine: string;
}

/**
 * 'fresh': an empty (or just created) directory; 'existing': a ledger data dir of our version;
 * 'migrate': one of an older version this ledgerctl migrates.
 */
export type DataDirState = 'fresh' | 'existing' | 'migrate';

/** Files a directory that holds no data yet may have: our lock, or an interrupted creation. */
const NO_DATA_YET = /^(LOCK|LOCK\.takeover|LOCK\.tmp-\d+|ledger\.mdb\.init|ledger\.mdb\.init-lock)$/;

/** Reads the format marker; refuses (without writing anything) a dir that is not ours to open. */
export function inspectDataDir(dataDir: string): DataDirState {
  const markerPath = path.join(dataDir, FORMAT_FILE);
  let text: string;
  try {
    text = fs.readFileSync(markerPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(dataDir, err);
    const entries = fs.readdirSync(dataDir).filter((name) => !NO_DATA_YET.test(name));
    if (entries.length === 0) return 'fresh';
    throw new DataDirError(
      'not-a-data-dir',
      dataDir,
      `data dir ${dataDir} is not empty and has no ${FORMAT_FILE} marker: not a ledgerctl data dir (or a damaged one); refusing to use it`,
    );
  }
  const marker = parseMarker(text);
  if (marker === undefined) {
    throw new DataDirError(
      'corrupt',
      dataDir,
      `data dir ${dataDir} has a damaged ${FORMAT_FILE} marker; refusing to open it`,
    );
  }
  if (marker.version > DURABLE_FORMAT_VERSION) {
    throw new DataDirError(
      'too-new',
      dataDir,
      `data dir ${dataDir} has format version ${marker.version}, newer than this ledgerctl supports (${DURABLE_FORMAT_VERSION}); upgrade ledgerctl`,
    );
  }
  if (marker.engine === 'lmdb' && MIGRATABLE_FORMAT_VERSIONS.includes(marker.version)) return 'migrate';
  if (marker.version < DURABLE_FORMAT_VERSION || marker.engine !== 'lmdb') {
    throw new DataDirError(
      'corrupt',
      dataDir,
      `data dir ${dataDir} has format ${marker.engine} v${marker.version}, which this ledgerctl cannot read`,
    );
  }
  return 'existing';
}

/** Writes the marker atomically (temp file, fsync, rename, fsync of the directory). */
export function writeFormatMarker(dataDir: string): void {
  const marker: FormatMarker = { format: FORMAT_TAG, version: DURABLE_FORMAT_VERSION, engine: 'lmdb' };
  const tmp = path.join(dataDir, `${FORMAT_FILE}.tmp-${process.pid}`);
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, `${JSON.stringify(marker)}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path.join(dataDir, FORMAT_FILE));
  fsyncDir(dataDir);
}

export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function parseMarker(text: string): FormatMarker | undefined {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null) return undefined;
    const { format, version, engine } = value as Record<string, unknown>;
    if (format !== FORMAT_TAG || typeof engine !== 'string') return undefined;
    if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) return undefined;
    return { format, version, engine };
  } catch {
    return undefined;
  }
}

export function ioError(dataDir: string, err: unknown): DataDirError {
  const message = err instanceof Error ? err.message : String(err);
  return new DataDirError('io', dataDir, `data dir ${dataDir}: ${message}`);
}
