import fs from 'node:fs';
import path from 'node:path';

/** Balances and the audit log are readable by the server's user only. */
export const DATA_DIR_MODE = 0o700;
export const DATA_FILE_MODE = 0o600;

/**
 * Creates the data dir 0700 (an existing one keeps its mode: the operator chose it). The explicit
 * chmod makes the mode independent of the process's umask, which mkdir's `mode` is not.
 */
export function makeDataDir(dir: string): void {
  const created = fs.mkdirSync(dir, { recursive: true, mode: DATA_DIR_MODE }) !== undefined;
  if (created) fs.chmodSync(dir, DATA_DIR_MODE);
}

/** Every regular file directly in the data dir becomes 0600 (LMDB creates its files 0644 under the usual umask). */
export function restrictDataFiles(dir: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(dir, entry.name);
    if ((fs.statSync(file).mode & 0o777) !== DATA_FILE_MODE) fs.chmodSync(file, DATA_FILE_MODE);
  }
}
