import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientSecurity } from '../client/client-security.js';
import { type InProcessServer, startInProcessServer } from './in-process-server.js';
import { RunSetupError } from './run-setup-error.js';
import type { Scenario } from './scenario-schema.js';
import { SpawnedServer } from './spawned-server.js';
import { createStressDatabase } from './stress-database.js';
import { PkiError, ThrowawayPki } from './throwaway-pki.js';

/**
 * Where the run's server comes from, and its lifecycle: the in-process worker thread, a spawned
 * `ledgerctl serve` (which the fault injector may kill), or remote targets the run does not own.
 */
export interface ServerSource {
  readonly kind: 'in-process' | 'spawned' | 'remote';
  readonly targets: string[];
  /** Shown in reports. */
  readonly label: string;
  readonly inProcess?: InProcessServer;
  readonly spawned?: SpawnedServer;
  /** Spawned durable server: its temporary data dir. */
  readonly dataDir?: string;
  /** Every spawned server (several share one PostgreSQL database); `spawned` is the first. */
  readonly instances?: readonly SpawnedServer[];
  /** How the run's clients reach a server the run started with TLS (`server: { tls }`). */
  readonly security?: ClientSecurity;
  /** Stops what the run started; a spawned server's data dir is kept when `keepDataDir`. */
  release(keepDataDir: boolean): Promise<void>;
}

export async function acquireServer(
  scenario: Scenario,
  targets: string[] | undefined,
): Promise<ServerSource> {
  const options = scenario.server;
  // A spawned server without faults is only where the embedded server runs: --target replaces it.
  if (options.mode === 'spawned' && !(targets !== undefined && scenario.faults.length === 0)) {
    if (targets !== undefined) {
      throw new RunSetupError(
        `scenario ${scenario.name} starts its own server (server: { mode: spawned }): run it without --target`,
      );
    }
    const tls = serverTls(options.tls);
    if (options.storage === 'postgres') return await startPostgresInstances(options, tls);
    const dataDir = options.in_memory === true ? undefined : mkdtempSync(join(tmpdir(), 'ledgerctl-stress-'));
    const removeDir = () => {
      if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true });
      tls?.pki.remove();
    };
    const spawned = new SpawnedServer({ dataDir, args: [...serveArgs(options), ...(tls?.args ?? [])] });
    try {
      await spawned.start();
    } catch (err) {
      removeDir();
      throw new RunSetupError(err instanceof Error ? err.message : String(err));
    }
    return {
      kind: 'spawned',
      targets: [spawned.target],
      label: `spawned ledgerctl serve (${dataDir === undefined ? 'in-memory' : 'temp data dir'}${tls?.label ?? ''})`,
      spawned,
      dataDir,
      security: tls?.client,
      async release(keepDataDir) {
        await spawned.stop();
        if (!keepDataDir) removeDir();
      },
    };
  }
  if (targets !== undefined) {
    return { kind: 'remote', targets, label: targets.join(','), release: async () => {} };
  }
  const inProcess = await startInProcessServer({
    locking: options.locking,
    txidTtlMs: options.txid_ttl,
    txidSweepThreshold: options.txid_sweep_threshold,
    maxTxids: options.max_txids,
    logWindowEntries: options.log_window_entries,
    maxInFlightCalls: options.max_in_flight_calls,
    commitDelayMs: options.commit_delay_ms,
    unsafeLocking: options.test_double?.unsafe_locking,
  });
  return {
    kind: 'in-process',
    targets: [inProcess.target],
    label: 'in-process',
    inProcess,
    release: () => inProcess.stop(),
  };
}

/** The `ledgerctl serve` flags for a spawned server's options. */
export function serveArgs(options: Scenario['server']): string[] {
  const args = ['--locking', options.locking];
  if (options.txid_ttl !== undefined) args.push('--txid-ttl', `${Math.ceil(options.txid_ttl)}ms`);
  if (options.txid_sweep_threshold !== undefined)
    args.push('--txid-sweep-threshold', `${options.txid_sweep_threshold}`);
  if (options.max_txids !== undefined) args.push('--max-txids', `${options.max_txids}`);
  if (options.txid_cache !== undefined) args.push('--txid-cache', `${options.txid_cache}`);
  if (options.log_window_entries !== undefined) args.push('--log-window', `${options.log_window_entries}`);
  if (options.max_in_flight_calls !== undefined)
    args.push('--max-in-flight', `${options.max_in_flight_calls}`);
  return args;
}

/** A spawned server's TLS: its flags, the client side, and the throwaway PKI behind both. */
interface SpawnedTls {
  pki: ThrowawayPki;
  args: string[];
  client: ClientSecurity;
  label: string;
}

/**
 * `server: { tls: true | mutual }`: a throwaway CA for the run signs the server's certificate (for
 * 127.0.0.1, ::1 and localhost) and, for mTLS, one client certificate every caller of the run
 * presents (no access file: the CA is the access list, so it is admin). Its files live as long as
 * the server (restarts by a kill fault reuse them) and go with the run.
 */
function serverTls(mode: Scenario['server']['tls']): SpawnedTls | undefined {
  if (mode === undefined || mode === false) return undefined;
  let pki: ThrowawayPki | undefined;
  try {
    pki = new ThrowawayPki('ledgerctl-stress-ca');
    const server = pki.issue('ledger', 'server');
    const args = ['--tls-cert', server.certFile, '--tls-key', server.keyFile];
    const client: ClientSecurity = { tls: { caPem: pki.ca.cert } };
    if (mode === 'mutual') {
      const harness = pki.issue('stress-harness', 'client');
      args.push('--tls-client-ca', pki.ca.certFile);
      client.tls = { ...client.tls, certPem: harness.cert, keyPem: harness.key };
    }
    return { pki, args, client, label: mode === 'mutual' ? ', mTLS' : ', TLS' };
  } catch (err) {
    pki?.remove();
    if (err instanceof PkiError) throw new RunSetupError(`server.tls: ${err.message}`);
    throw err;
  }
}

/**
 * `instances` servers on one fresh PostgreSQL database: the whole ledger is the database, so the
 * verdicts (read through any instance) are about all of them. The database is dropped after a
 * passing run and kept (named in the label) after a failing one.
 */
async function startPostgresInstances(
  options: Scenario['server'],
  tls: SpawnedTls | undefined,
): Promise<ServerSource> {
  const db = await createStressDatabase().catch((err: unknown) => {
    tls?.pki.remove();
    throw err;
  });
  const count = options.instances ?? 1;
  const instances: SpawnedServer[] = [];
  try {
    // One at a time: the first applies the schema (--migrate), the others find it current.
    for (let i = 0; i < count; i++) {
      const server = new SpawnedServer({
        dataDir: undefined,
        storageArgs: ['--database-url', db.url, '--migrate'],
        args: [...serveArgs(options), ...(tls?.args ?? [])],
      });
      instances.push(server);
      await server.start();
    }
  } catch (err) {
    await Promise.all(instances.map((s) => s.stop()));
    await db.drop();
    tls?.pki.remove();
    throw new RunSetupError(err instanceof Error ? err.message : String(err));
  }
  return {
    kind: 'spawned',
    targets: instances.map((s) => s.target),
    label: `${count} spawned ledgerctl serve on PostgreSQL database ${db.name}${tls?.label ?? ''}`,
    spawned: instances[0],
    instances,
    security: tls?.client,
    async release(keep) {
      await Promise.all(instances.map((s) => s.stop()));
      tls?.pki.remove();
      if (!keep) await db.drop();
    },
  };
}
