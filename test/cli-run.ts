import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** The compiled CLI, exactly as a user runs it (`npm test` builds first). */
export const CLI = fileURLToPath(new URL('../bin/ledgerctl.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment without the user's LEDGER_TARGET / NO_COLOR, so each test says what it means. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { LEDGER_TARGET: _target, NO_COLOR: _noColor, GRPC_VERBOSITY: _verbosity, ...env } = process.env;
  return { ...env, ...extra };
}

/** A running CLI process whose output is collected from the start. */
export class CliProcess {
  readonly child: ChildProcess;
  readonly result: Promise<CliResult>;
  private stdout = '';
  private stderr = '';
  private lineWaiters: Array<() => void> = [];

  constructor(args: readonly string[], env = cleanEnv()) {
    this.child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      this.stdout += chunk;
      if (this.stdout.includes('\n')) for (const wake of this.lineWaiters.splice(0)) wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.result = once(this.child, 'close').then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
      stdout: this.stdout,
      stderr: this.stderr,
    }));
  }

  /** The first stdout line, once printed; rejects if the process ends without one. */
  async firstLine(): Promise<string> {
    const printed = new Promise<void>((resolve) => {
      if (this.stdout.includes('\n')) resolve();
      else this.lineWaiters.push(resolve);
    });
    const ended = this.result.then((r) => {
      throw new Error(`exited (code ${r.code}) before printing a line; stderr:\n${r.stderr}`);
    });
    await Promise.race([printed, ended]);
    return this.stdout.slice(0, this.stdout.indexOf('\n'));
  }
}

/** `serve --port 0 --in-memory --log-level silent` with `extra` flags, once it listens, and its port. */
export async function startServeInMemory(
  extra: readonly string[],
): Promise<{ serve: CliProcess; port: number }> {
  const serve = new CliProcess(['serve', '--port', '0', '--in-memory', '--log-level', 'silent', ...extra]);
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(await serve.firstLine())?.[1]);
  return { serve, port };
}

/**
 * `serve --port 0 --log-level silent` with `flags` and metrics on a free loopback port, once it
 * listens: the process, its gRPC target and its metrics address.
 */
export async function startServeWithMetrics(
  flags: readonly string[],
): Promise<{ serve: CliProcess; target: string; metricsAddr: string }> {
  const metricsAddr = `127.0.0.1:${await closedPort()}`;
  const serve = new CliProcess([
    'serve',
    '--port',
    '0',
    ...flags,
    '--metrics-addr',
    metricsAddr,
    '--log-level',
    'silent',
  ]);
  const target = /listening on (\S+)/.exec(await serve.firstLine())![1]!;
  return { serve, target, metricsAddr };
}

/** Asynchronous on purpose: the server under test may live in this very process. */
export function runCli(args: readonly string[], env = cleanEnv()): Promise<CliResult> {
  return new CliProcess(args, env).result;
}

/** A loopback port nobody listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** Every stderr line the user sees for their own mistake: exactly one, prefixed, no stack. */
export function oneErrorLine(stderr: string): string {
  const lines = stderr.split('\n').filter((line) => line !== '');
  if (lines.length !== 1 || !lines[0]!.startsWith('ledgerctl: ') || /\n\s+at /.test(stderr)) {
    throw new Error(`expected one 'ledgerctl: ' line on stderr, got:\n${stderr}`);
  }
  return lines[0]!;
}
