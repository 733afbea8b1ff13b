import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LedgerClient } from '../src/client/ledger-client.js';
import type { LedgerEngine } from '../src/engine/ledger-engine.js';
import { grpcFrame, MisbehavingClient, outcomeOf } from '../src/harness/misbehaving-client.js';
import { LedgerMetrics } from '../src/server/ledger-metrics.js';
import type { Logger } from '../src/server/logger.js';
import { type MetricsServer, startMetricsServer } from '../src/server/metrics-server.js';
import { CliProcess, closedPort, oneErrorLine, runCli, startServeWithMetrics } from './cli-run.js';
import { scrape, value } from './prometheus-text.js';
import { startTestServer, type TestServer } from './server-fixture.js';

let t: TestServer | undefined;
let http: MetricsServer | undefined;
afterEach(async () => {
  await http?.close();
  await t?.stop();
  http = undefined;
  t = undefined;
});

describe('Prometheus metrics', () => {
  it('reads the connections waiting for their HTTP/2 session, those shed and those on probation, as the server counts them', async () => {
    const metrics = new LedgerMetrics();
    metrics.bind({
      inFlightCalls: () => 0,
      connections: () => ({ open: 3, refused: 1, queued: 7, shed: 5, probation: 2 }),
    });
    http = await startMetricsServer(metrics, '127.0.0.1', 0, silentLogger());
    const { samples } = await scrape(http.target);
    expect(value(samples, 'ledger_connections')).toBe(3);
    expect(value(samples, 'ledger_connections_waiting')).toBe(7);
    expect(value(samples, 'ledger_connections_shed_total')).toBe(5);
    expect(value(samples, 'ledger_connections_probation_total')).toBe(2);
  });

  it('counts calls by method and status, times them, and reads the engine at scrape time', async () => {
    const metrics = new LedgerMetrics();
    t = await startTestServer({ observer: metrics, engine: { commitObserver: metrics } });
    const { server } = t;
    const engine = server.engine as LedgerEngine;
    metrics.bind({
      inFlightCalls: () => server.inFlightCalls,
      engineStats: () => engine.stats(),
      connections: () => server.connections,
      openStreams: () => server.openStreams,
    });
    http = await startMetricsServer(metrics, '127.0.0.1', 0, silentLogger());

    await t.client.createAccount('a', 100n);
    await t.client.createAccount('b', 0n);
    await t.client.transferFunds('a', 'b', 5n, 't1');
    await t.client.getBalance('nobody').catch(() => {});
    await t.client.getBalance('a');

    const { samples, types } = await scrape(http.target);
    expect(value(samples, 'ledger_rpc_calls_total', { method: 'CreateAccount', code: 'OK' })).toBe(2);
    expect(value(samples, 'ledger_rpc_calls_total', { method: 'GetBalance', code: 'NOT_FOUND' })).toBe(1);
    expect(value(samples, 'ledger_rpc_calls_total', { method: 'GetBalance', code: 'OK' })).toBe(1);
    expect(value(samples, 'ledger_rpc_duration_seconds_count', { method: 'TransferFunds' })).toBe(1);
    expect(value(samples, 'ledger_rpc_duration_seconds_bucket', { method: 'GetBalance', le: '+Inf' })).toBe(
      2,
    );
    expect(value(samples, 'ledger_rpc_duration_seconds_sum', { method: 'GetBalance' })).toBeGreaterThan(0);
    expect(value(samples, 'ledger_commit_batch_writes_count')).toBe(3);
    expect(value(samples, 'ledger_commit_batch_writes_sum')).toBe(3);
    expect(value(samples, 'ledger_accounts')).toBe(2);
    expect(value(samples, 'ledger_log_position')).toBe(3);
    expect(value(samples, 'ledger_log_window_entries')).toBe(3);
    expect(value(samples, 'ledger_idempotency_records')).toBe(1);
    expect(value(samples, 'ledger_lock_acquisitions_total')).toBe(3);
    expect(value(samples, 'ledger_rpc_in_flight')).toBe(0);
    expect(value(samples, 'ledger_connections')).toBeGreaterThanOrEqual(1);
    expect(value(samples, 'ledger_connections_refused_total')).toBe(0);
    expect(value(samples, 'ledger_connections_waiting')).toBe(0);
    expect(value(samples, 'ledger_connections_shed_total')).toBe(0);
    expect(value(samples, 'ledger_connections_probation_total')).toBe(0);
    expect(value(samples, 'ledger_streams')).toBe(0);
    expect(value(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    // Prometheus conventions: counters end in _total, units in the name.
    for (const [name, type] of types) {
      if (type === 'counter') expect(name).toMatch(/_total$/);
      if (name.startsWith('ledger_') && type !== 'counter') expect(name).not.toMatch(/_total$/);
    }
    expect(types.get('ledger_rpc_duration_seconds')).toBe('histogram');

    const other = await fetch(`http://${http.target}/`);
    expect(other.status).toBe(404);
  });
});

describe('ledgerctl serve --metrics-addr', () => {
  it('serves metrics of a durable ledger, storage size included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-metrics-'));
    const { serve, target, metricsAddr } = await startServeWithMetrics(['--data-dir', dir]);
    try {
      const client = new LedgerClient(target);
      await client.createAccount('a', 1n);
      client.close();
      const { samples, types } = await scrape(metricsAddr);
      // What serve exposes and what docs/security.md's table lists are the same set of families.
      const table = readFileSync(new URL('../docs/security.md', import.meta.url), 'utf8');
      const documented = [...table.matchAll(/^\| (`ledger_[^|]*)\|/gm)].flatMap((row) =>
        [...row[1]!.matchAll(/`(ledger_[a-z_]+)/g)].map((name) => name[1]!),
      );
      const served = [...types.keys()].filter((name) => name.startsWith('ledger_'));
      expect(served.sort()).toEqual(documented.sort());
      expect(value(samples, 'ledger_storage_bytes')).toBeGreaterThan(0);
      expect(value(samples, 'ledger_accounts')).toBe(1);
      // A durable commit takes time to flush: the histogram saw it.
      expect(value(samples, 'ledger_commit_flush_seconds_count')).toBe(1);
      expect(value(samples, 'ledger_commit_flush_seconds_sum')).toBeGreaterThan(0);
    } finally {
      serve.child.kill('SIGTERM');
      expect((await serve.result).code).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts calls refused before any handler (strict decoding, call gate, access control) by status', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ledger-metrics-'));
    const tokens = join(dir, 'tokens');
    writeFileSync(tokens, `token sha256:${createHash('sha256').update('t-admin').digest('hex')} ops admin\n`);
    const port = await closedPort();
    const serve = new CliProcess([
      'serve',
      '--port',
      '0',
      '--in-memory',
      '--auth-tokens',
      tokens,
      '--max-pending',
      '1',
      '--max-streams',
      '1',
      '--request-timeout',
      '300ms',
      '--metrics-addr',
      `127.0.0.1:${port}`,
      '--log-level',
      'silent',
    ]);
    let raw: MisbehavingClient | undefined;
    try {
      const target = /listening on (\S+)/.exec(await serve.firstLine())![1]!;
      raw = await MisbehavingClient.connect(target);
      const auth = { authorization: 'Bearer t-admin' };
      // Strict decoding: field 1 (account_id) sent as a varint.
      const malformed = await raw.call('/ledger.v1.Ledger/CreateAccount', Buffer.from('0803', 'hex'), auth);
      expect(malformed.grpcStatus).toBe(status.INVALID_ARGUMENT);
      // Access control: no token.
      const anonymous = await raw.call('/ledger.v1.Ledger/GetBalance', Buffer.from('0a0161', 'hex'));
      expect(anonymous.grpcStatus).toBe(status.UNAUTHENTICATED);
      // Pending bound of 1: the second header-only call pushes the first out; the second times out.
      const first = outcomeOf(raw.open('/ledger.v1.Ledger/GetBalance', auth));
      await new Promise((r) => setTimeout(r, 50));
      const second = outcomeOf(raw.open('/ledger.v1.Ledger/GetBalance', auth));
      expect((await first).grpcStatus).toBe(status.RESOURCE_EXHAUSTED);
      expect((await second).grpcStatus).toBe(status.DEADLINE_EXCEEDED);
      // Stream bound of 1: a second health Watch is refused.
      const watch = raw.open('/grpc.health.v1.Health/Watch');
      watch.on('data', () => {});
      watch.end(grpcFrame(new Uint8Array(0)));
      await new Promise((r) => watch.once('response', r));
      const refusedWatch = await raw.call('/grpc.health.v1.Health/Watch', new Uint8Array(0));
      expect(refusedWatch.grpcStatus).toBe(status.RESOURCE_EXHAUSTED);

      const { samples } = await scrape(`127.0.0.1:${port}`);
      const calls = (method: string, code: string) =>
        value(samples, 'ledger_rpc_calls_total', { method, code });
      expect(calls('CreateAccount', 'INVALID_ARGUMENT')).toBe(1);
      expect(calls('GetBalance', 'UNAUTHENTICATED')).toBe(1);
      // ...and in the guessing guard's own counters (guessing-guard.ts): one failure, nothing closed.
      expect(value(samples, 'ledger_auth_failures_total', {})).toBe(1);
      expect(value(samples, 'ledger_auth_connections_closed_total', {})).toBe(0);
      expect(value(samples, 'ledger_auth_refused_unchecked_total', {})).toBe(0);
      expect(calls('GetBalance', 'RESOURCE_EXHAUSTED')).toBe(1);
      expect(calls('GetBalance', 'DEADLINE_EXCEEDED')).toBe(1);
      expect(calls('grpc.health.v1.Health/Watch', 'RESOURCE_EXHAUSTED')).toBe(1);
      // Refusals are timed too: one duration sample per refused ledger call.
      expect(value(samples, 'ledger_rpc_duration_seconds_count', { method: 'GetBalance' })).toBe(3);
    } finally {
      raw?.destroy();
      serve.child.kill('SIGTERM');
      await serve.result;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([['nonsense'], ['127.0.0.1:70000']])(
    'refuses --metrics-addr %s with one line and exit 2',
    async (addr) => {
      const result = await runCli(['serve', '--port', '0', '--in-memory', '--metrics-addr', addr]);
      expect(result.code).toBe(2);
      expect(oneErrorLine(result.stderr)).toMatch(/--metrics-addr/);
    },
  );
});

function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
