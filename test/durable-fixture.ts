import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock } from '../src/engine/clock.js';
import { type EngineOptions, LedgerEngine } from '../src/engine/ledger-engine.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'ledger-durable-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** A settable clock shared by the engine and the storage's expiry check. */
export function fakeClock(startMs = 1_700_000_000_000): Clock & { ms: number } {
  const clock = {
    ms: startMs,
    nowMs: () => clock.ms,
    nowNs: () => BigInt(clock.ms) * 1_000_000n,
  };
  return clock;
}

export interface DurableOpen extends EngineOptions {
  recentLogEntries?: number;
}

/** Opens the engine on LMDB storage in `dir`, as the server does. */
export async function openDurable(dir: string, options: DurableOpen = {}): Promise<LedgerEngine> {
  const { recentLogEntries, ...engineOptions } = options;
  const storage = await LmdbStorage.open(
    dir,
    options.clock === undefined ? {} : { nowMs: options.clock.nowMs },
  );
  return LedgerEngine.open({
    ...engineOptions,
    storage,
    logWindowEntries: recentLogEntries ?? engineOptions.logWindowEntries,
  });
}

/** The compiled storage module (`npm test` builds first), for child processes. */
export const DIST_STORAGE = fileURLToPath(new URL('../dist/src/engine/lmdb-storage.js', import.meta.url));

/**
 * Runs a small ESM script in a child node process and returns its exit code, signal and output.
 * `script` may import DIST_STORAGE via the STORAGE placeholder.
 */
export async function runNode(
  script: string,
  args: readonly string[] = [],
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const file = path.join(
    os.tmpdir(),
    `ledger-durable-child-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`,
  );
  fs.writeFileSync(file, script.replaceAll('STORAGE', JSON.stringify(`file://${DIST_STORAGE}`)));
  try {
    const child = spawn(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );
    return { code, signal, stdout, stderr };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/**
 * Every file name in `dir` with its size and content hash: "left untouched" is equality of this.
 * LMDB's `*-lock` file is its shared reader table (rewritten by any reader, holds no data): only
 * its presence counts.
 */
export function fingerprintDir(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir).sort()) {
    if (name.endsWith('.mdb-lock')) {
      out[name] = 'present';
      continue;
    }
    const data = fs.readFileSync(path.join(dir, name));
    let h = 0;
    for (let i = 0; i < data.length; i++) h = (Math.imul(h, 31) + data[i]!) | 0;
    out[name] = `${data.length}:${h}`;
  }
  return out;
}
