import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CheckLevel, type CheckReport, reportFromJson } from './durable-verify.js';

/** Why a checking child did not produce a report. */
export class CheckCrashed extends Error {
  override readonly name = 'CheckCrashed';
}

/**
 * The compiled child script. Under the test runner this module is the TypeScript source, so the
 * child is taken from the build (`npm test` builds first).
 */
function childScript(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = path.join(path.dirname(here), 'durable-check-child.js');
  if (fs.existsSync(sibling)) return sibling;
  const root = path.resolve(path.dirname(here), '..', '..');
  return path.join(root, 'dist', 'src', 'engine', 'durable-check-child.js');
}

/**
 * Checks a data file in a throwaway child process: LMDB aborts the process (SIGABRT, SIGSEGV) on
 * some damaged pages, and then only the child dies. Resolves with the report (which may list
 * problems); rejects with CheckCrashed when the child crashed or could not read the file.
 */
export function checkDataFileInChild(file: string, level: CheckLevel): Promise<CheckReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript(), file, level], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) {
        try {
          resolve(reportFromJson(stdout));
        } catch {
          reject(new CheckCrashed('the checking process printed no report'));
        }
        return;
      }
      if (signal !== null) {
        reject(new CheckCrashed(`the storage engine crashed (${signal}) reading it`));
        return;
      }
      const line = stderr.split('\n').find((l) => l.startsWith('check failed: ')) ?? `exit code ${code}`;
      reject(new CheckCrashed(line.replace(/^check failed: /, '').trim()));
    });
  });
}
