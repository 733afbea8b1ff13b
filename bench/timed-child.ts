import { execFile } from 'node:child_process';

export interface TimedChild {
  stdout: string;
  stderr: string;
  /** The child's user + system CPU seconds, from GNU time. */
  cpuS: number;
}

/**
 * Runs a tool under GNU time (`/usr/bin/time -f 'CPU %U %S'`) so each side of a comparison is
 * charged its own CPU. stress exits 1 on a failed invariant (a null responder's fixed answers fail
 * conservation) and 3 on a failed threshold: its JSON report is still written and read.
 */
export function runTimed(cmd: string, args: string[]): Promise<TimedChild> {
  return new Promise((resolve, reject) =>
    execFile(
      '/usr/bin/time',
      ['-f', 'CPU %U %S', cmd, ...args],
      { maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        err && ![1, 3].includes((err as { code?: number }).code ?? -1)
          ? reject(new Error(`${cmd}: ${stderr || err.message}`))
          : resolve({ stdout, stderr, cpuS: cpuOf(stderr) }),
    ),
  );
}

/** CPU seconds from GNU time's "CPU %U %S" on the last stderr line. */
function cpuOf(stderr: string): number {
  const m = /CPU (\d+\.\d+) (\d+\.\d+)\s*$/.exec(stderr.trim());
  return m === null ? Number.NaN : Number(m[1]) + Number(m[2]);
}

/**
 * h2load replaying one pre-encoded gRPC request (`body`, a length-prefixed message) to `url` for
 * `seconds` after `warmupS`; `flags` set the clients, streams and rate.
 */
export function runTimedH2load(
  url: string,
  body: string,
  timing: { seconds: number; warmupS: number },
  flags: string[],
): Promise<TimedChild> {
  return runTimed('h2load', [
    ...flags,
    '-D',
    String(timing.seconds),
    '--warm-up-time',
    String(timing.warmupS),
    '-d',
    body,
    '-H',
    'content-type: application/grpc',
    '-H',
    'te: trailers',
    url,
  ]);
}
