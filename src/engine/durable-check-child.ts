import { type CheckLevel, checkDataFile, reportToJson } from './durable-verify.js';

/*
 * `node durable-check-child.js FILE LEVEL`: checks a data file and prints its report as one JSON
 * line. Run as a child process (durable-check.ts) because LMDB aborts the process on some damaged
 * pages instead of returning an error: here that abort costs only this child.
 */
const [file, level] = process.argv.slice(2);
try {
  if (file === undefined || (level !== 'startup' && level !== 'full'))
    throw new Error('usage: FILE startup|full');
  process.stdout.write(`${reportToJson(checkDataFile(file, level as CheckLevel))}\n`);
} catch (err) {
  process.stderr.write(`check failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 3;
}
