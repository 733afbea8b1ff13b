import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { DataDirError } from './durable-errors.js';

/** The sub-databases a data file of this format holds. */
export const SUB_DATABASES = ['accounts', 'log', 'logIndex', 'txids', 'meta'] as const;

/*
 * Run in a throwaway child: opens the file read-only and touches what opening and recovery rely
 * on first (the database catalog, each sub-database's root, first and last pages). LMDB does not
 * checksum pages, and on damaged ones it aborts the process instead of returning an error, so the
 * child takes that risk and the server only learns "damaged".
 */
const PROBE = `
const [file, lmdbPath, names] = process.argv.slice(1);
const { open } = require(lmdbPath);
const root = open({ path: file, noSubdir: true, maxDbs: 8, readOnly: true });
for (const name of names.split(',')) {
  const db = root.openDB({ name, create: false });
  if (db === undefined) throw new Error('Error: sub-database ' + name + ' is missing');
  db.getStats();
  for (const reverse of [false, true]) for (const entry of db.getRange({ reverse, limit: 2 })) void entry.value;
}
root.close();
`;

/** Throws DataDirError('corrupt') if a read-only child cannot read the file's structure. */
export function probeLmdbFile(dataDir: string, file: string): void {
  const lmdbPath = createRequire(import.meta.url).resolve('lmdb');
  const child = spawnSync(process.execPath, ['-e', PROBE, file, lmdbPath, SUB_DATABASES.join(',')], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (child.status === 0) return;
  const why =
    child.signal !== null
      ? `the storage engine crashed (${child.signal}) reading it`
      : (child.stderr.split('\n').find((line) => /Error/.test(line)) ?? `exit code ${child.status}`).trim();
  throw new DataDirError('corrupt', dataDir, `data file ${file} is damaged (${why}); refusing to open it`);
}
