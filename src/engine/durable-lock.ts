import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { LIMITS } from '../domain/limits.js';
import { DataDirError } from './durable-errors.js';
import { fsyncDir, ioError } from './durable-format.js';

const LOCK_FILE = 'LOCK';
/** Held only while one process removes a stale LOCK, so two starters cannot both take it over. */
const TAKEOVER_FILE = 'LOCK.takeover';
/** Data dirs this process holds: a LOCK with our own pid is only stale if it is not in here. */
const heldHere = new Set<string>();

export interface LockOptions {
  /**
   * Take over a LOCK whose holder runs on another host (its liveness cannot be checked from here):
   * the operator has checked that server is gone. A live holder on this host is never taken over.
   */
  forceUnlock?: boolean;
}

interface Holder {
  pid: number;
  /** Kernel start time of the process (Linux): tells a live holder from a reused pid. */
  startTicks: string | undefined;
  host: string;
}

/**
 * One server per data dir. LMDB itself lets many processes share a file, so exclusivity is ours:
 * a LOCK file naming the holder (pid, process start time, host), created atomically with its
 * content (written to a temp file, then hard-linked into place, which fails if LOCK exists).
 * A LOCK whose process is gone (kill -9, power loss) is stale and is taken over.
 */
export class DataDirLock {
  private constructor(
    private readonly dataDir: string,
    private readonly content: string,
  ) {}

  static acquire(dataDir: string, options: LockOptions = {}): DataDirLock {
    const lockPath = path.join(dataDir, LOCK_FILE);
    const me: Holder = { pid: process.pid, startTicks: startTicksOf(process.pid), host: os.hostname() };
    const content = `${JSON.stringify(me)}\n`;
    if (heldHere.has(lockPath)) {
      throw new DataDirError('locked', dataDir, `data dir ${dataDir} is already open in this process`);
    }
    const deadline = Date.now() + LIMITS.dataDirLockTakeoverWaitMs;
    for (;;) {
      if (tryCreate(dataDir, lockPath, content)) {
        heldHere.add(lockPath);
        return new DataDirLock(dataDir, content);
      }
      const existing = readOrUndefined(lockPath);
      if (existing === undefined) continue; // released between our attempt and the read
      const holder = parseHolder(existing);
      if (holder !== undefined && holder.host !== os.hostname() && options.forceUnlock !== true) {
        throw new DataDirError(
          'locked',
          dataDir,
          `data dir ${dataDir} is locked by a ledgerctl on host ${holder.host} (pid ${holder.pid}), which cannot be checked from here; if that server is gone (e.g. a restarted pod with a new name), start again with --force-unlock`,
        );
      }
      if (holder !== undefined && holder.host === os.hostname() && isAlive(holder)) {
        throw new DataDirError(
          'locked',
          dataDir,
          `data dir ${dataDir} is in use by another ledgerctl (pid ${holder.pid} on ${holder.host}); stop it first`,
        );
      }
      if (!takeOver(dataDir, lockPath, existing) && Date.now() > deadline) {
        throw new DataDirError(
          'locked',
          dataDir,
          `data dir ${dataDir}: could not take over its stale LOCK (another process keeps ${TAKEOVER_FILE}); remove it if no ledgerctl runs`,
        );
      }
    }
  }

  /** Removes LOCK if it is still ours. */
  release(): void {
    const lockPath = path.join(this.dataDir, LOCK_FILE);
    if (!heldHere.delete(lockPath)) return;
    if (readOrUndefined(lockPath) === this.content) fs.rmSync(lockPath, { force: true });
  }
}

function tryCreate(dataDir: string, lockPath: string, content: string): boolean {
  const tmp = path.join(dataDir, `${LOCK_FILE}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, content);
    try {
      fs.linkSync(tmp, lockPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
    fsyncDir(dataDir);
    return true;
  } catch (err) {
    throw ioError(dataDir, err);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * Removes a stale LOCK while holding TAKEOVER_FILE, and only if LOCK still has the stale
 * content (another starter may have replaced it meanwhile). False when someone else is taking
 * over: the caller retries.
 */
function takeOver(dataDir: string, lockPath: string, staleContent: string): boolean {
  const guardPath = path.join(dataDir, TAKEOVER_FILE);
  let fd: number;
  try {
    fd = fs.openSync(guardPath, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(dataDir, err);
    // A starter killed inside its takeover leaves the guard behind: old guards are stale too.
    const ageMs = Date.now() - (statOrUndefined(guardPath)?.mtimeMs ?? Date.now());
    if (ageMs > LIMITS.dataDirLockTakeoverWaitMs) fs.rmSync(guardPath, { force: true });
    else sleepMs(10);
    return false;
  }
  try {
    if (readOrUndefined(lockPath) === staleContent) fs.rmSync(lockPath, { force: true });
    return true;
  } finally {
    fs.closeSync(fd);
    fs.rmSync(guardPath, { force: true });
  }
}

/** Liveness of a holder on this host. */
function isAlive(holder: Holder): boolean {
  // Our own pid in a LOCK we did not write: a previous incarnation (e.g. a restarted container).
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // The pid exists; if it started at another time it is a different process that reuses it.
  const ticks = startTicksOf(holder.pid);
  return holder.startTicks === undefined || ticks === undefined || ticks === holder.startTicks;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks since boot); undefined off Linux. */
function startTicksOf(pid: number): string | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // The command name (field 2) may contain spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}

function parseHolder(text: string): Holder | undefined {
  try {
    const value = JSON.parse(text) as Partial<Holder>;
    if (typeof value.pid !== 'number' || typeof value.host !== 'string') return undefined;
    return { pid: value.pid, host: value.host, startTicks: value.startTicks };
  } catch {
    return undefined;
  }
}

function readOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch {
    return undefined;
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
