import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SERVE_NODE_FLAGS } from '../src/server/serve-node-flags.js';
import type { CpuSample, ServerKind } from './server-child.js';

/** A server (real or bare) in a child process; its CPU is sampled over IPC. */
export class ServerProcess {
  private nextId = 1;
  private readonly pending = new Map<number, (sample: CpuSample) => void>();

  private constructor(
    readonly kind: ServerKind,
    readonly target: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (message: CpuSample) => {
      if (message.type !== 'cpu') return;
      this.pending.get(message.id)?.(message);
      this.pending.delete(message.id);
    });
  }

  /** Rejects with the server's own message when it cannot start (e.g. not implemented yet). */
  static start(kind: ServerKind, cpuProfileDir?: string, dataDir?: string): Promise<ServerProcess> {
    const script = fileURLToPath(new URL('./server-child.js', import.meta.url));
    // BENCH_SERVER_FLAGS: extra node flags for the server process (e.g. GC tuning experiments);
    // BENCH_SERVER_FLAGS_<KIND> (BARE, REAL, DURABLE, ...) for one kind of server only.
    const flags = `${process.env.BENCH_SERVER_FLAGS ?? ''} ${process.env[`BENCH_SERVER_FLAGS_${kind.toUpperCase().replace('-', '_')}`] ?? ''}`;
    // Ledger servers run with serve's node flags, as the harness starts them (BENCH_PLAIN_NODE=1: without).
    const ledger = kind === 'real' || kind === 'durable';
    const serveFlags = ledger && process.env.BENCH_PLAIN_NODE !== '1' ? SERVE_NODE_FLAGS : [];
    const execArgv = ['--expose-gc', ...serveFlags, ...flags.split(' ').filter(Boolean)];
    if (cpuProfileDir !== undefined) execArgv.push('--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`);
    const args = dataDir === undefined ? [kind] : [kind, dataDir];
    const child = fork(script, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) =>
        reject(new Error(`${kind} server exited (${code}) before it was ready`));
      child.once('exit', onExit);
      child.once('message', (message: { type: string; target?: string; message?: string }) => {
        child.off('exit', onExit);
        if (message.type === 'ready') resolve(new ServerProcess(kind, message.target!, child));
        else {
          child.kill();
          reject(new Error(message.message ?? 'server failed to start'));
        }
      });
    });
  }

  cpu(): Promise<CpuSample> {
    return this.ask('cpu');
  }

  /** Forces a GC in the server and starts tracking its peak heap from there (read it from cpu()). */
  watchHeap(): Promise<CpuSample> {
    return this.ask('watch-heap');
  }

  private ask(type: string): Promise<CpuSample> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ type, id });
    });
  }

  /** Graceful, so a --cpu-prof profile is written; killed if it does not exit in time. */
  stop(timeoutMs = 10_000): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
      this.child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.child.send({ type: 'stop' });
    });
  }
}
