import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { tokenHash } from '../src/server/access-control.js';
import { newHistogramUs, summarizeUs } from './histogram.js';
import { loadAverage } from './proc-stats.js';

/*
 * Token guessing against `--auth-tokens` with and without the guessing guard
 * (src/server/guessing-guard.ts). Each server runs in its own process (its CPU is its own) with an
 * access file of `--listed` token hashes (a check compares against every one) and is attacked by
 * `--connections` grpc-js connections, each with `--in-flight` calls carrying a wrong token of
 * `--token-bytes` characters, in a closed loop; a well-behaved client with the right token reads a
 * balance every 5 ms on its own connection, first with nobody attacking (idle), then during the
 * attack. "Guard off" is the same server with budgets nobody reaches.
 *
 *   npm run build && node dist/bench/guessing-bench.js [--seconds 6] [--listed 1000] [--token-bytes 1024]
 */

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '6' },
    listed: { type: 'string', default: '1000' },
    'token-bytes': { type: 'string', default: '1024' },
    connections: { type: 'string', default: '8' },
    'in-flight': { type: 'string', default: '16' },
    /** Internal: this process is the attacker, against this target (prints its outcomes as JSON). */
    'attack-target': { type: 'string' },
  },
});
const SECONDS = Number(values.seconds);
const LISTED = Number(values.listed);
const TOKEN_BYTES = Number(values['token-bytes']);
const CONNECTIONS = Number(values.connections);
const IN_FLIGHT = Number(values['in-flight']);
const GOOD = 'good-token-7c1d9e0b5a3f2e8d';

interface AuthStats {
  failures: number;
  expelled: number;
  unchecked: number;
}

class Server {
  private constructor(
    readonly target: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(config: object): Promise<Server> {
    const script = fileURLToPath(new URL('./security-server-child.js', import.meta.url));
    const child = fork(script, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [message] = (await once(child, 'message')) as [{ target: string }];
    return new Server(message.target, child);
  }

  private async ask<T>(type: string): Promise<T> {
    this.child.send({ type });
    for (;;) {
      const [message] = (await once(this.child, 'message')) as [{ type: string } & T];
      if (message.type === type) return message;
    }
  }

  async cpuMs(): Promise<number> {
    const { userUs, systemUs } = await this.ask<{ userUs: number; systemUs: number }>('cpu');
    return (userUs + systemUs) / 1000;
  }

  auth(): Promise<AuthStats> {
    return this.ask<AuthStats>('auth');
  }

  async stop(): Promise<void> {
    this.child.send({ type: 'stop' });
    await once(this.child, 'exit');
  }
}

/** The good client: one read every 5 ms until `untilMs`; latency in us, and how many failed. */
async function sentinel(client: LedgerClient, untilMs: number) {
  const histogram = newHistogramUs();
  let errors = 0;
  while (performance.now() < untilMs) {
    const started = performance.now();
    try {
      await client.getBalance('bench');
      histogram.recordValue(Math.round((performance.now() - started) * 1000));
    } catch {
      errors++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  return { ...summarizeUs(histogram), errors };
}

async function attack(target: string, untilMs: number, outcomes: Map<string, number>): Promise<void> {
  const token = randomBytes(TOKEN_BYTES).toString('base64url').slice(0, TOKEN_BYTES);
  const clients = Array.from(
    { length: CONNECTIONS },
    (_, i) => new LedgerClient(target, { deadlineMs: 5_000, security: { token }, channelKey: `guess-${i}` }),
  );
  const caller = async (client: LedgerClient) => {
    while (performance.now() < untilMs) {
      let outcome = 'OK';
      try {
        await client.getBalance('bench');
      } catch (err) {
        outcome = err instanceof LedgerCallError ? err.codeName : 'other';
      }
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
  };
  await Promise.all(clients.flatMap((c) => Array.from({ length: IN_FLIGHT }, () => caller(c))));
  for (const c of clients) c.close();
}

/** The attacker in a process of its own, so the good client's latency is not its event loop's. */
async function attackFromChild(target: string): Promise<Map<string, number>> {
  const script = fileURLToPath(import.meta.url);
  const child = fork(script, [...process.argv.slice(2), '--attack-target', target], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    out += chunk.toString();
  });
  await once(child, 'exit');
  return new Map(Object.entries(JSON.parse(out) as Record<string, number>));
}

if (values['attack-target'] !== undefined) {
  const outcomes = new Map<string, number>();
  await attack(values['attack-target'], performance.now() + SECONDS * 1000, outcomes);
  console.log(JSON.stringify(Object.fromEntries(outcomes)));
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'ledger-guessing-bench-'));
try {
  const accessFile = join(dir, 'access');
  const lines = [`token ${tokenHash(GOOD)} teller read`];
  for (let i = 1; i < LISTED; i++)
    lines.push(`token ${tokenHash(randomBytes(32).toString('hex'))} p${i} read`);
  writeFileSync(accessFile, `${lines.join('\n')}\n`);
  const rows: Record<string, unknown>[] = [];
  for (const [name, guessingPolicy] of [
    ['guard on (defaults)', undefined],
    ['guard off', { maxFailuresPerConnectionPerSecond: 1e12, maxFailuresPerSecond: 1e12 }],
  ] as const) {
    const server = await Server.start({ authTokensFile: accessFile, guessingPolicy });
    const good = new LedgerClient(server.target, {
      deadlineMs: 5_000,
      security: { token: GOOD },
      channelKey: 'good',
    });
    await sentinel(good, performance.now() + 500);
    const idle = await sentinel(good, performance.now() + 2_000);
    const cpu0 = await server.cpuMs();
    const auth0 = await server.auth();
    const until = performance.now() + SECONDS * 1000;
    const [during, outcomes] = await Promise.all([sentinel(good, until), attackFromChild(server.target)]);
    const cpuMs = (await server.cpuMs()) - cpu0;
    const auth = await server.auth();
    const guesses = [...outcomes.values()].reduce((a, b) => a + b, 0);
    rows.push({
      server: name,
      'guesses answered': guesses,
      'credential checks': auth.failures - auth0.failures,
      'connections closed': auth.expelled - auth0.expelled,
      'refused unchecked': auth.unchecked - auth0.unchecked,
      'server CPU % of a core': Number(((cpuMs / (SECONDS * 1000)) * 100).toFixed(0)),
      'server CPU us per guess': Number(((cpuMs * 1000) / Math.max(1, guesses)).toFixed(1)),
      'good p50 idle/during ms': `${(idle.p50 / 1000).toFixed(2)} / ${(during.p50 / 1000).toFixed(2)}`,
      'good p99 idle/during ms': `${(idle.p99 / 1000).toFixed(2)} / ${(during.p99 / 1000).toFixed(2)}`,
      'good errors': during.errors,
      outcomes: Object.fromEntries(outcomes),
    });
    good.close();
    await server.stop();
  }
  console.log(
    `guessing bench: ${SECONDS} s of attack, ${CONNECTIONS} connections x ${IN_FLIGHT} in flight, ` +
      `${TOKEN_BYTES}-character wrong token, ${LISTED} listed hashes, load ${loadAverage()}`,
  );
  for (const row of rows) console.log(JSON.stringify(row));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
