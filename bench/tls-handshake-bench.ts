/**
 * What a TLS handshake costs `ledgerctl serve`: full handshakes per second and CPU per handshake
 * on both sides, against an independent reference (`openssl s_server` with the same certificate,
 * OpenSSL in C), driven by an independent client (`openssl s_time`), and by Node's TLS client with
 * ALPN h2 (what grpc-js and the lean caller do). Plaintext TCP connect+close is the floor.
 * Server CPU is read from /proc/<pid>/stat, the openssl client's from its own rusage
 * (/usr/bin/time), the Node client's from process.cpuUsage().
 *
 *   npm run build && node dist/bench/tls-handshake-bench.js [--seconds 8]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ThrowawayPki } from '../src/harness/throwaway-pki.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } });
const SECONDS = Number(values.seconds);
/** Handshakes the Node client keeps in progress at once (2 cores: more only queues). */
const NODE_CONCURRENCY = 2;
const TICKS_PER_S = 100;

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of the whole line; 12 and 13 after "pid (comm) ".
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S;
}

async function startLedger(cert: { certFile: string; keyFile: string }) {
  const cli = fileURLToPath(new URL('../../bin/ledgerctl.js', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      cli,
      'serve',
      '--in-memory',
      '--port',
      '0',
      '--log-level',
      'fatal',
      '--tls-cert',
      cert.certFile,
      '--tls-key',
      cert.keyFile,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on \S+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code})`)));
  });
  return { child, port };
}

async function startOpensslServer(cert: { certFile: string; keyFile: string }) {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(
    'openssl',
    [
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      cert.certFile,
      '-key',
      cert.keyFile,
      '-quiet',
      '-naccept',
      '1000000',
    ],
    { stdio: ['pipe', 'ignore', 'ignore'] },
  );
  // Ready when it accepts a TCP connection.
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child, port };
}

interface Row {
  handshakes: number;
  seconds: number;
  serverCpuMs: number;
  clientCpuMs: number;
}

/** `openssl s_time -new`: every connection a full handshake, then closed. */
function sTime(port: number, caFile: string, mode: '-new', serverPid: number): Row {
  const before = cpuMs(serverPid);
  const t0 = performance.now();
  const run = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      'CPU %U %S',
      'openssl',
      's_time',
      '-connect',
      `127.0.0.1:${port}`,
      mode,
      '-time',
      String(SECONDS),
      '-CAfile',
      caFile,
    ],
    { encoding: 'utf8' },
  );
  const seconds = (performance.now() - t0) / 1000;
  const serverCpuMs = cpuMs(serverPid) - before;
  const out = `${run.stdout}\n${run.stderr}`;
  const counts = [...out.matchAll(/(\d+) connections in ([\d.]+)s/g)];
  const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(out);
  if (counts.length === 0 || cpu === null) throw new Error(`s_time said:\n${out}`);
  // s_time's own "in N s" is its user CPU time, not the wall clock: handshakes/s use ours.
  return {
    handshakes: Number(counts[0]![1]),
    seconds,
    serverCpuMs,
    clientCpuMs: (Number(cpu[1]) + Number(cpu[2])) * 1000,
  };
}

/** Node's TLS client with ALPN h2, as the ledger's clients connect: full handshakes, then close. */
async function nodeHandshakes(port: number, ca: Buffer | undefined, serverPid: number): Promise<Row> {
  const before = cpuMs(serverPid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let handshakes = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      if (ca === undefined) {
        const s = netConnect(port, '127.0.0.1', () => {
          handshakes++;
          s.destroy();
          resolve();
        });
        s.on('error', reject);
        return;
      }
      const s = tlsConnect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2'], session: undefined });
      s.once('secureConnect', () => {
        handshakes++;
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
  await Promise.all(
    Array.from({ length: NODE_CONCURRENCY }, async () => {
      while (performance.now() < end) await one();
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // Let the server finish closing what it was sent before its CPU is read.
  await new Promise((r) => setTimeout(r, 200));
  return {
    handshakes,
    seconds,
    serverCpuMs: cpuMs(serverPid) - before,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

function line(name: string, r: Row): string {
  const perS = r.handshakes / r.seconds;
  const us = (ms: number) => ((ms * 1000) / r.handshakes).toFixed(0);
  return `| ${name} | ${r.handshakes} | ${perS.toFixed(0)} | ${us(r.serverCpuMs)} | ${us(r.clientCpuMs)} |`;
}

const pki = new ThrowawayPki('bench-ca');
const cert = pki.issue('ledger', 'server');
const ledger = await startLedger(cert);
const reference = await startOpensslServer(cert);
const stop = (c: ChildProcess) => c.kill('SIGKILL');
try {
  const rows: string[] = [
    `TLS handshake bench: ${SECONDS} s per row, ECDSA P-256, TLS 1.3, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    '| server, client | handshakes | per s | server CPU us each | client CPU us each |',
    '|---|---|---|---|---|',
  ];
  rows.push(
    line(
      'ledgerctl serve, TCP connect+close only (floor), Node client',
      await nodeHandshakes(ledger.port, undefined, ledger.child.pid!),
    ),
  );
  rows.push(
    line(
      'ledgerctl serve, Node tls.connect ALPN h2 (full)',
      await nodeHandshakes(ledger.port, pki.ca.cert, ledger.child.pid!),
    ),
  );
  rows.push(
    line(
      'ledgerctl serve, openssl s_time -new (full)',
      sTime(ledger.port, pki.ca.certFile, '-new', ledger.child.pid!),
    ),
  );
  rows.push(
    line(
      'openssl s_server (reference), openssl s_time -new (full)',
      sTime(reference.port, pki.ca.certFile, '-new', reference.child.pid!),
    ),
  );
  rows.push(
    line(
      'openssl s_server (reference), Node tls.connect (full)',
      await nodeHandshakes(reference.port, pki.ca.cert, reference.child.pid!),
    ),
  );
  rows.push(`load after: ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log(rows.join('\n'));
} finally {
  stop(ledger.child);
  stop(reference.child);
  pki.remove();
}
