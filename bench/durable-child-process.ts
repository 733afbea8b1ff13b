import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/*
 * Measurements that must not see this process's heap, page-cache history or warmed-up JIT run in
 * a fresh node. The child prints progress on stderr (passed through) and its report as the last
 * line of stdout.
 */

export interface ChildOptions {
  /** Extra node flags, e.g. --max-old-space-size=8192. */
  nodeArgs?: readonly string[];
}

export async function runChild<T>(
  script: string,
  args: readonly string[],
  options: ChildOptions = {},
): Promise<T> {
  const file = fileURLToPath(new URL(`./${script}`, import.meta.url));
  const child = spawn(process.execPath, ['--expose-gc', ...(options.nodeArgs ?? []), file, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (exitCode, exitSignal) => resolve([exitCode, exitSignal]));
  });
  if (code !== 0) {
    throw new Error(`${script} ${args.join(' ')} failed (${signal ?? `exit code ${code}`})`);
  }
  const last = stdout.trim().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

/** The child's side: one JSON line the parent parses. */
export function reportToParent(report: unknown): void {
  console.log(JSON.stringify(report));
}

/** Progress goes to stderr, so stdout stays one parseable report. */
export function progress(line: string): void {
  console.error(line);
}
