import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SERVE_NODE_FLAGS } from '../server/serve-node-flags.js';
import { HARNESS_LIMITS } from './harness-limits.js';

/**
 * The CLI a user runs, so the crash test exercises exactly what ships. This module is
 * dist/src/harness/*.js when compiled and src/harness/*.ts under vitest; bin/ is at the root.
 */
export function cliEntryPath(): string {
  for (const relative of ['../../bin/ledgerctl.js', '../../../bin/ledgerctl.js']) {
    const path = fileURLToPath(new URL(relative, import.meta.url));
    const compiled = fileURLToPath(new URL('../dist/src/cli/main.js', new URL(relative, import.meta.url)));
    if (existsSync(path) && existsSync(compiled)) return path;
  }
  throw new Error('ledgerctl is not built: run npm run build (bin/ledgerctl.js loads dist/)');
}

/** What `ledgerctl serve` logged about its recovery (JSON line `ledger recovered`). */
export interface RecoveryLog {
  durationMs: number;
  accounts: number;
  logEntries: number;
  txRecords: number;
}

/** One process lifetime of the server. */
export interface ServerStart {
  target: string;
  /** Spawn until it printed its listening line. */
  readyMs: number;
  /** Filled when the server's log line arrives (it is written asynchronously). */
  recovery?: RecoveryLog;
}

export interface SpawnedServerOptions {
  /** The data dir, or undefined for `--in-memory`. */
  dataDir: string | undefined;
  /** Further `serve` flags (locking, txid limits). */
  args: readonly string[];
  /** Replaces the data-dir flags (e.g. `--database-url`): a server whose state lives elsewhere. */
  storageArgs?: readonly string[];
}

/**
 * The line of a dead process's stderr that says why: the last error line of an uncaught exception
 * (Node prints its version after the stack), else the last line.
 */
export function exitLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  return lines.findLast((line) => /^\w*Error\b.*:/.test(line)) ?? lines.at(-1) ?? '';
}

/** Where the first stdout line of `serve` names its address. */
const LISTENING = /listening on (\S+)/;
/** The last stderr of a process, kept for an error message if it fails to start. */
const STDERR_TAIL_CHARS = 4_000;

/**
 * `ledgerctl serve --port 0` as a child process that the harness can kill and start again on
 * the same data dir. Each start gets a new port; `target` is the current one.
 */
export class SpawnedServer {
  private child: ChildProcess | undefined;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;
  private expectingExit = false;
  readonly starts: ServerStart[] = [];
  /** Exits nobody asked for (a crash of the server itself). */
  readonly unexpectedExits: string[] = [];

  constructor(private readonly options: SpawnedServerOptions) {}

  get target(): string {
    const last = this.starts.at(-1);
    if (last === undefined) throw new Error('server not started');
    return last.target;
  }

  /** The running server's process id, if one is running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<ServerStart> {
    const storage =
      this.options.storageArgs ??
      (this.options.dataDir === undefined ? ['--in-memory'] : ['--data-dir', this.options.dataDir]);
    const args = [
      ...SERVE_NODE_FLAGS,
      cliEntryPath(),
      'serve',
      '--port',
      '0',
      '--log-level',
      'info',
      ...storage,
      ...this.options.args,
    ];
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.expectingExit = false;
    let stdout = '';
    let stderr = '';
    let partial = '';
    const start: ServerStart = { target: '', readyMs: 0 };
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) start.recovery ??= parseRecovery(line);
    });
    this.exited = new Promise((resolve) => {
      child.on('close', (code, signal) => {
        if (this.child === child) this.child = undefined;
        if (!this.expectingExit && start.target !== '') {
          this.unexpectedExits.push(
            `server ${start.target} exited on its own (code ${code}, signal ${signal}): ${exitLine(stderr)}`,
          );
        }
        resolve({ code, signal });
      });
    });
    const target = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`ledgerctl serve did not start within ${HARNESS_LIMITS.serverStartTimeoutMs}ms`));
      }, HARNESS_LIMITS.serverStartTimeoutMs);
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk;
        const match = LISTENING.exec(stdout);
        if (match !== null) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
      void this.exited!.then(({ code }) => {
        clearTimeout(timer);
        reject(new Error(`ledgerctl serve exited (code ${code}) before listening: ${stderr.trim()}`));
      });
    });
    start.target = target;
    start.readyMs = performance.now() - t0;
    this.starts.push(start);
    return start;
  }

  /** Sends the signal and waits until the process is gone (its data-dir lock released). */
  async kill(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.expectingExit = true;
    child.kill(signal);
    await this.exited;
  }

  /** A graceful stop (SIGTERM), then SIGKILL if it does not end in time. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    this.expectingExit = true;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), HARNESS_LIMITS.serverStartTimeoutMs);
    await this.exited;
    clearTimeout(timer);
  }
}

function parseRecovery(line: string): RecoveryLog | undefined {
  if (!line.includes('"ledger recovered"')) return undefined;
  try {
    const fields = JSON.parse(line) as Record<string, unknown>;
    return {
      durationMs: Number(fields.durationMs),
      accounts: Number(fields.accounts),
      logEntries: Number(fields.logEntries),
      txRecords: Number(fields.txRecords),
    };
  } catch {
    return undefined;
  }
}
