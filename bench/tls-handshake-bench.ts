/**
 * What a TLS handshake costs `ledgerctl serve`: handshakes per second and CPU per handshake on
 * both sides, full and resumed (session tickets), with and without client certificates (mTLS),
 * against an independent reference (`openssl s_server` with the same certificates, OpenSSL in C),
 * driven by an independent client (`openssl s_time -new` / `-reuse`), and by Node's TLS client
 * with ALPN h2 (what grpc-js and the lean caller do). Plaintext TCP connect+close is the floor.
 * Server CPU is read from /proc/<pid>/stat, the openssl client's from its own rusage
 * (/usr/bin/time), the Node client's from process.cpuUsage().
 *
 * `openssl s_time -reuse` cannot resume TLS 1.3 (it never reads the ticket the server sends after
 * the handshake), so its rows run TLS 1.2 (`-tls1_2`), full and resumed side by side. Node's client
 * resumes TLS 1.3 with the ticket of its first connection (`session`); each row says how many of
 * its handshakes were really resumed.
 *
 *   npm run build && node dist/bench/tls-handshake-bench.js [--seconds 4] [--only tls|mtls]
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type Issued, ThrowawayPki } from '../src/harness/throwaway-pki.js';
import { loadAverage, processCpuMs } from './proc-stats.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '4' }, only: { type: 'string' } },
});
const SECONDS = Number(values.seconds);
/** Handshakes the Node client keeps in progress at once (2 cores: more only queues). */
const NODE_CONCURRENCY = 2;

/** The server side of one setup: its certificate, and the client CA when it asks for client certificates. */
interface ServerTls {
  cert: Issued;
  clientCaFile?: string | undefined;
}

async function startLedger(tls: ServerTls) {
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
      tls.cert.certFile,
      '--tls-key',
      tls.cert.keyFile,
      ...(tls.clientCaFile === undefined ? [] : ['--tls-client-ca', tls.clientCaFile]),
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

async function startOpensslServer(tls: ServerTls) {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(
    'openssl',
    [
      's_server',
      '-accept',
      `127.0.0.1:${port}`,
      '-cert',
      tls.cert.certFile,
      '-key',
      tls.cert.keyFile,
      // -Verify: a client certificate is required, as `--tls-client-ca` requires one.
      ...(tls.clientCaFile === undefined ? [] : ['-Verify', '1', '-CAfile', tls.clientCaFile]),
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
  /** Handshakes that resumed a session (undefined: not known, s_time says it per run only). */
  resumed?: number | undefined;
  seconds: number;
  serverCpuMs: number;
  clientCpuMs: number;
}

/** What a client presents: the CA it trusts, and a certificate for mTLS. */
interface ClientTls {
  ca: Issued;
  cert?: Issued | undefined;
}

/**
 * `openssl s_time`: `-new`, every connection a full handshake; `-reuse`, the first one full and
 * every later one resuming its session. Then closed.
 */
function sTime(
  port: number,
  tls: ClientTls,
  mode: '-new' | '-reuse',
  version: string[],
  serverPid: number,
): Row {
  const before = processCpuMs(serverPid);
  const t0 = performance.now();
  const cert = tls.cert === undefined ? [] : ['-cert', tls.cert.certFile, '-key', tls.cert.keyFile];
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
      ...version,
      '-time',
      String(Math.max(1, Math.round(SECONDS))),
      '-CAfile',
      tls.ca.certFile,
      ...cert,
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const seconds = (performance.now() - t0) / 1000;
  const serverCpuMs = processCpuMs(serverPid) - before;
  const out = `${run.stdout}\n${run.stderr}`;
  const counts = [...out.matchAll(/(\d+) connections in ([\d.]+)s/g)];
  const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(out);
  if (counts.length === 0 || cpu === null) throw new Error(`s_time said:\n${out.slice(-2000)}`);
  // s_time prints 'r' for a resumed connection and '*' for a new one (-reuse only).
  const marks = /^[r*]+$/m.exec(run.stdout)?.[0] ?? '';
  // s_time's own "in N s" is its user CPU time, not the wall clock: handshakes/s use ours.
  return {
    handshakes: Number(counts[0]![1]),
    resumed: mode === '-reuse' ? [...marks].filter((c) => c === 'r').length : 0,
    seconds,
    serverCpuMs,
    clientCpuMs: (Number(cpu[1]) + Number(cpu[2])) * 1000,
  };
}

/**
 * Node's TLS client with ALPN h2, as the ledger's clients connect, then close. A full handshake is
 * closed once the server's session ticket arrives: in TLS 1.3 the server sends it after it has
 * checked the client's last flight (its certificate, with mTLS), so closing at 'secureConnect'
 * could spare the server part of its work. `resume`: every connection offers the ticket of the
 * worker's first one; a resumed one is closed at 'secureConnect' (nothing left to check).
 */
async function nodeHandshakes(
  port: number,
  tls: ClientTls | undefined,
  resume: boolean,
  serverPid: number,
): Promise<Row> {
  const before = processCpuMs(serverPid);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let handshakes = 0;
  let resumed = 0;
  const one = (session: Buffer | undefined) =>
    new Promise<Buffer | undefined>((resolve, reject) => {
      if (tls === undefined) {
        const s = netConnect(port, '127.0.0.1', () => {
          handshakes++;
          s.destroy();
          resolve(undefined);
        });
        s.on('error', reject);
        return;
      }
      const s = tlsConnect({
        host: '127.0.0.1',
        port,
        ca: tls.ca.cert,
        cert: tls.cert?.cert,
        key: tls.cert?.key,
        servername: 'localhost',
        ALPNProtocols: ['h2'],
        session,
      });
      s.once('secureConnect', () => {
        handshakes++;
        if (!s.isSessionReused()) {
          // Keep reading: the ticket (and the server's HTTP/2 SETTINGS) come after the handshake.
          s.resume();
          return;
        }
        // Resumed: no certificate to check, and Node's server sends no new ticket to wait for.
        resumed++;
        s.destroy();
        resolve(session);
      });
      s.once('session', (ticket: Buffer) => {
        s.destroy();
        resolve(resume ? (session ?? ticket) : undefined);
      });
      s.on('error', reject);
    });
  await Promise.all(
    Array.from({ length: NODE_CONCURRENCY }, async () => {
      let ticket: Buffer | undefined;
      while (performance.now() < end) ticket = await one(ticket);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  // Let the server finish closing what it was sent before its CPU is read.
  await new Promise((r) => setTimeout(r, 200));
  return {
    handshakes,
    resumed: tls === undefined ? undefined : resumed,
    seconds,
    serverCpuMs: processCpuMs(serverPid) - before,
    clientCpuMs: (cpu.user + cpu.system) / 1000,
  };
}

function line(name: string, r: Row): string {
  const perS = r.handshakes / r.seconds;
  const us = (ms: number) => ((ms * 1000) / r.handshakes).toFixed(0);
  const resumed = r.resumed === undefined ? '-' : `${r.resumed}`;
  return `| ${name} | ${r.handshakes} | ${resumed} | ${perS.toFixed(0)} | ${us(r.serverCpuMs)} | ${us(r.clientCpuMs)} |`;
}

const TLS12 = ['-tls1_2'];
const pki = new ThrowawayPki('bench-ca');
const serverCert = pki.issue('ledger', 'server');
const clientCert = pki.issue('bench-client', 'client');
const children: ChildProcess[] = [];
const rows: string[] = [
  `TLS handshake bench: ${SECONDS} s per row, ECDSA P-256, TLS 1.3 unless marked 1.2, load ${loadAverage()}`,
  '| server, client | handshakes | resumed | per s | server CPU us each | client CPU us each |',
  '|---|---|---|---|---|---|',
];
/** A finished row goes to stderr at once too: a failing row later still leaves the earlier ones. */
const add = (row: string) => {
  rows.push(row);
  console.error(row);
};
try {
  for (const mutual of [false, true]) {
    if (values.only !== undefined && values.only !== (mutual ? 'mtls' : 'tls')) continue;
    const serverTls: ServerTls = { cert: serverCert, clientCaFile: mutual ? pki.ca.certFile : undefined };
    const client: ClientTls = { ca: pki.ca, cert: mutual ? clientCert : undefined };
    const ledger = await startLedger(serverTls);
    const reference = await startOpensslServer(serverTls);
    children.push(ledger.child, reference.child);
    const kind = mutual ? 'mTLS' : 'TLS';
    const servers = [
      { name: `ledgerctl serve ${kind}`, port: ledger.port, pid: ledger.child.pid! },
      { name: `openssl s_server ${kind} (reference)`, port: reference.port, pid: reference.child.pid! },
    ];
    if (!mutual)
      add(
        line(
          'ledgerctl serve, TCP connect+close only (floor), Node client',
          await nodeHandshakes(ledger.port, undefined, false, ledger.child.pid!),
        ),
      );
    for (const server of servers) {
      const at = (what: string) => `${server.name}, ${what}`;
      add(line(at('Node tls.connect, full'), await nodeHandshakes(server.port, client, false, server.pid)));
      add(line(at('Node tls.connect, resumed'), await nodeHandshakes(server.port, client, true, server.pid)));
      add(line(at('s_time -new'), sTime(server.port, client, '-new', [], server.pid)));
      add(line(at('s_time -new -tls1_2'), sTime(server.port, client, '-new', TLS12, server.pid)));
      add(line(at('s_time -reuse -tls1_2'), sTime(server.port, client, '-reuse', TLS12, server.pid)));
    }
    ledger.child.kill('SIGKILL');
    reference.child.kill('SIGKILL');
  }
  rows.push(`load after: ${loadAverage()}`);
  console.log(rows.join('\n'));
} finally {
  for (const c of children) c.kill('SIGKILL');
  pki.remove();
}
