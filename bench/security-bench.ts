import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import type { ClientSecurity } from '../src/client/client-security.js';
import { LedgerClient } from '../src/client/ledger-client.js';
import { ThrowawayPki } from '../src/harness/throwaway-pki.js';
import { AccessControl, parseAccessTable, tokenHash } from '../src/server/access-control.js';
import { LedgerMetrics } from '../src/server/ledger-metrics.js';
import { runClosedLoop } from './closed-loop.js';
import { machineInfo } from './report.js';

/*
 * What TLS, bearer tokens and metrics cost per call. Every configuration serves the same
 * GetBalance from an in-memory ledger in its own process; one grpc-js client (this process) runs
 * a closed loop against it. Configurations run interleaved, round after round, so a noisy
 * neighbour hits all of them alike; each round gives a ratio to the plaintext server of the same
 * round, and the report quotes medians over rounds.
 *
 *   node dist/bench/security-bench.js [--rounds 5] [--calls 6000] [--concurrency 32]
 */

interface Config {
  name: string;
  server: {
    certFile?: string;
    keyFile?: string;
    clientCaFile?: string;
    authTokensFile?: string;
    metrics?: boolean;
  };
  client: ClientSecurity | undefined;
}

interface Sample {
  callsPerSec: number;
  serverCpuUsPerCall: number;
  clientCpuUsPerCall: number;
}

const TOKEN = 'bench-token-5b0c2f7a9e1d4c3b8a6f0e2d1c9b7a65';

function makePki(dir: string): { ca: Buffer; certFile: string; keyFile: string } {
  const openssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    join(dir, 'ca.key'),
    '-out',
    join(dir, 'ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=bench-ca',
  ]);
  openssl(['req', ...ec, '-keyout', join(dir, 's.key'), '-out', join(dir, 's.csr'), '-subj', '/CN=bench']);
  writeFileSync(join(dir, 's.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl([
    'x509',
    '-req',
    '-in',
    join(dir, 's.csr'),
    '-CA',
    join(dir, 'ca.pem'),
    '-CAkey',
    join(dir, 'ca.key'),
    '-CAcreateserial',
    '-out',
    join(dir, 's.pem'),
    '-days',
    '1',
    '-extfile',
    join(dir, 's.ext'),
  ]);
  return { ca: readFileSync(join(dir, 'ca.pem')), certFile: join(dir, 's.pem'), keyFile: join(dir, 's.key') };
}

class Child {
  private constructor(
    readonly target: string,
    private readonly child: ChildProcess,
  ) {}

  static async start(config: Config['server']): Promise<Child> {
    const script = fileURLToPath(new URL('./security-server-child.js', import.meta.url));
    const child = fork(script, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const [message] = (await once(child, 'message')) as [{ type: string; target: string }];
    return new Child(message.target, child);
  }

  async ask<T>(type: string, reply: string): Promise<T> {
    this.child.send({ type });
    for (;;) {
      const [message] = (await once(this.child, 'message')) as [{ type: string } & T];
      if (message.type === reply) return message;
    }
  }

  async cpuUs(): Promise<number> {
    const { userUs, systemUs } = await this.ask<{ userUs: number; systemUs: number }>('cpu', 'cpu');
    return userUs + systemUs;
  }

  async stop(): Promise<void> {
    this.child.send({ type: 'stop' });
    await once(this.child, 'exit');
  }
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function measure(
  child: Child,
  client: LedgerClient,
  calls: number,
  concurrency: number,
): Promise<Sample> {
  const serverBefore = await child.cpuUs();
  const clientBefore = process.cpuUsage();
  const { opsPerSec } = await runClosedLoop(concurrency, calls, () => client.getBalance('bench'));
  const clientCpu = process.cpuUsage(clientBefore);
  const serverUs = (await child.cpuUs()) - serverBefore;
  return {
    callsPerSec: opsPerSec,
    serverCpuUsPerCall: serverUs / calls,
    clientCpuUsPerCall: (clientCpu.user + clientCpu.system) / calls,
  };
}

/** The added work alone, in this process: what one call pays for metrics and for a token check. */
function isolatedCostsNs(): { metricsCallNs: number; tokenCheckNs: number; tokenCheck10Ns: number } {
  const perCall = (n: number, work: () => void): number => {
    for (let i = 0; i < 20_000; i++) work();
    const started = process.hrtime.bigint();
    for (let i = 0; i < n; i++) work();
    return Number(process.hrtime.bigint() - started) / n;
  };
  const metrics = new LedgerMetrics();
  const methods = ['GetBalance', 'UpdateBalance', 'TransferFunds'];
  let i = 0;
  const metricsCallNs = perCall(300_000, () =>
    metrics.callEnded(methods[i++ % 3]!, 0, process.hrtime.bigint()),
  );
  const access = (tokens: number) =>
    new AccessControl(
      parseAccessTable(
        Array.from(
          { length: tokens },
          (_, k) => `token ${tokenHash(k === 0 ? TOKEN : `other-${k}`)} p${k} write`,
        ).join('\n'),
        'bench',
      ),
    );
  const metadata = new grpc.Metadata();
  metadata.set('authorization', `Bearer ${TOKEN}`);
  const one = access(1);
  const ten = access(10);
  return {
    metricsCallNs,
    tokenCheckNs: perCall(300_000, () => one.authenticate(metadata, () => null)),
    tokenCheck10Ns: perCall(300_000, () => ten.authenticate(metadata, () => null)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      calls: { type: 'string', default: '6000' },
      concurrency: { type: 'string', default: '32' },
    },
  });
  const rounds = Number(values.rounds);
  const calls = Number(values.calls);
  const concurrency = Number(values.concurrency);
  const dir = mkdtempSync(join(tmpdir(), 'ledger-security-bench-'));
  const cleanups: (() => void)[] = [];
  try {
    const pki = makePki(dir);
    const tokensFile = join(dir, 'tokens');
    writeFileSync(tokensFile, `token ${tokenHash(TOKEN)} bench admin\n`);
    const tls = { certFile: pki.certFile, keyFile: pki.keyFile };
    // mTLS: the client's certificate (CN bench-client) is its principal; no token.
    const clientPki = new ThrowawayPki('bench-client-ca');
    cleanups.push(() => clientPki.remove());
    const clientCert = clientPki.issue('bench-client', 'client');
    const mtls = { ...tls, clientCaFile: clientPki.ca.certFile };
    const configs: Config[] = [
      { name: 'plaintext', server: {}, client: undefined },
      { name: 'plaintext + metrics', server: { metrics: true }, client: undefined },
      { name: 'plaintext + token', server: { authTokensFile: tokensFile }, client: { token: TOKEN } },
      { name: 'TLS', server: tls, client: { tls: { caPem: pki.ca } } },
      {
        name: 'mTLS (certificate principal)',
        server: mtls,
        client: { tls: { caPem: pki.ca, certPem: clientCert.cert, keyPem: clientCert.key } },
      },
      {
        name: 'TLS + token + metrics',
        server: { ...tls, authTokensFile: tokensFile, metrics: true },
        client: { tls: { caPem: pki.ca }, token: TOKEN },
      },
    ];
    const running = await Promise.all(
      configs.map(async (config) => {
        const child = await Child.start(config.server);
        const client = new LedgerClient(child.target, { deadlineMs: 30_000, security: config.client });
        // Warm-up: connection, handshake, JIT.
        await runClosedLoop(concurrency, 2_000, () => client.getBalance('bench'));
        return { config, child, client, samples: [] as Sample[] };
      }),
    );
    for (let round = 0; round < rounds; round++) {
      for (const r of running) {
        r.samples.push(await measure(r.child, r.client, calls, concurrency));
        if (r.config.server.metrics === true) await r.child.ask('scrape', 'scraped');
      }
    }
    const base = running[0]!.samples;
    const rows = running.map((r) => {
      const ratio = (pick: (s: Sample) => number) =>
        median(r.samples.map((s, i) => pick(s) / pick(base[i]!)));
      return {
        config: r.config.name,
        callsPerSec: Math.round(median(r.samples.map((s) => s.callsPerSec))),
        serverCpuUsPerCall: Number(median(r.samples.map((s) => s.serverCpuUsPerCall)).toFixed(1)),
        clientCpuUsPerCall: Number(median(r.samples.map((s) => s.clientCpuUsPerCall)).toFixed(1)),
        serverCpuRatio: Number(ratio((s) => s.serverCpuUsPerCall).toFixed(3)),
        clientCpuRatio: Number(ratio((s) => s.clientCpuUsPerCall).toFixed(3)),
        throughputRatio: Number(ratio((s) => s.callsPerSec).toFixed(3)),
      };
    });
    console.table(rows);
    const isolated = isolatedCostsNs();
    console.table([isolated]);
    console.log(
      JSON.stringify({ machine: machineInfo(), rounds, calls, concurrency, rows, isolated }, null, 2),
    );
    for (const r of running) {
      r.client.close();
      await r.child.stop();
    }
  } finally {
    for (const cleanup of cleanups) cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
