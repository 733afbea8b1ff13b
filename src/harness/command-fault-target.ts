import { spawn } from 'node:child_process';
import { HealthClient } from '../client/health-client.js';
import { HARNESS_LIMITS } from './harness-limits.js';
import type { ServerStart } from './spawned-server.js';

/** What a fault takes down and brings back: a spawned server, or a deployment run by commands. */
export interface FaultTarget {
  readonly starts: ServerStart[];
  readonly unexpectedExits: string[];
  kill(signal: NodeJS.Signals): Promise<void>;
  start(): Promise<ServerStart>;
}

export interface FaultCommands {
  /** Takes the deployment (or its database) down: e.g. `systemctl kill -s KILL ledger`, `kill -STOP <pid>`. */
  down: string;
  /** Brings it back: e.g. `systemctl start ledger`, `kill -CONT <pid>`, `pg_ctlcluster 15 main start`. */
  up: string;
}

function runShell(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child
      .stderr!.setEncoding('utf8')
      .on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-2_000)));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`\`${command}\` exited ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}`)),
    );
  });
}

/**
 * Faults against servers the harness did not start: the scenario names the commands that take
 * them down and bring them back (kill and restart, pause with SIGSTOP/SIGCONT, or the database
 * under them). The targets keep their addresses; "up" means every target's health says SERVING
 * again, so any ledger.v1 implementation that serves the standard health service can be judged.
 */
export class CommandFaultTarget implements FaultTarget {
  readonly starts: ServerStart[];
  readonly unexpectedExits: string[] = [];

  constructor(
    private readonly commands: FaultCommands,
    private readonly targets: readonly string[],
  ) {
    this.starts = [{ target: targets[0]!, readyMs: 0 }];
  }

  async kill(): Promise<void> {
    await runShell(this.commands.down);
  }

  async start(): Promise<ServerStart> {
    const t0 = performance.now();
    await runShell(this.commands.up);
    const deadline = Date.now() + HARNESS_LIMITS.serverStartTimeoutMs;
    for (const target of this.targets) {
      const health = new HealthClient(target);
      try {
        for (;;) {
          const status = await health.check('', 1_000).catch(() => 'UNREACHABLE');
          if (status === 'SERVING') break;
          if (Date.now() > deadline) {
            throw new Error(
              `${target} not SERVING ${HARNESS_LIMITS.serverStartTimeoutMs} ms after \`${this.commands.up}\` (last: ${status})`,
            );
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      } finally {
        health.close();
      }
    }
    const start = { target: this.targets[0]!, readyMs: performance.now() - t0 };
    this.starts.push(start);
    return start;
  }
}
