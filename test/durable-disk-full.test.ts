import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HealthClient } from '../src/client/health-client.js';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { Errors } from '../src/domain/errors.js';
import { type CommitBatch, MemoryStorage, StorageFailure } from '../src/engine/storage.js';
import { CLI, CliProcess } from './cli-run.js';
import { removeDir, tempDir } from './durable-fixture.js';
import { PINO_FATAL, startTestServer } from './server-fixture.js';

const STORAGE_FAILED = Errors.storageFailed().message;

/** In-memory storage whose commits start failing when told to (a disk that fills up). */
class FillingStorage extends MemoryStorage {
  full = false;
  override commit(_batch: CommitBatch): Promise<void> {
    return new Promise((resolve, reject) =>
      setTimeout(() => (this.full ? reject(new Error('No space left on device')) : resolve()), 2),
    );
  }
}

async function callError(work: Promise<unknown>): Promise<LedgerCallError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof LedgerCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

describe('a failed commit while serving (fault injection in the storage)', () => {
  it('fails the waiting writes and later ones with UNAVAILABLE, turns NOT_SERVING, logs fatal, keeps reads', async () => {
    const storage = new FillingStorage();
    const t = await startTestServer({ engine: { storage } });
    const health = new HealthClient(t.server.target);
    try {
      await t.client.createAccount('a', 100n);
      expect(await health.check('')).toBe('SERVING');
      storage.full = true;
      const waiting = await Promise.all(
        Array.from({ length: 10 }, (_, i) => callError(t.client.createAccount(`b${i}`, 1n))),
      );
      for (const err of waiting) {
        expect(err.code).toBe(grpc.status.UNAVAILABLE);
        expect(err.details).toBe(STORAGE_FAILED);
      }
      const later = await callError(t.client.updateBalance('a', 1n, 'after-failure'));
      expect([later.code, later.details]).toEqual([grpc.status.UNAVAILABLE, STORAGE_FAILED]);
      expect(await health.check('')).toBe('NOT_SERVING');
      expect(await health.check('ledger.v1.Ledger')).toBe('NOT_SERVING');
      const fatal = t.logs.filter((line) => line.level === PINO_FATAL);
      expect(fatal).toHaveLength(1);
      expect(fatal[0]).toMatchObject({ msg: 'storage failed; writes are refused' });
      expect(String(fatal[0]!.reason)).toContain('No space left on device');
      expect(await t.server.storageFailed).toBeInstanceOf(StorageFailure);
      // What was acknowledged is still served.
      expect((await t.client.getBalance('a')).value.balance).toBe(100n);
    } finally {
      health.close();
      await t.stop();
    }
  });
});

/**
 * A real full disk under `ledgerctl serve`: a 1 MiB tmpfs when this process may mount one (root),
 * else a 1 MiB file-size limit (`ulimit -f`, EFBIG instead of ENOSPC: the same failed LMDB commit).
 */
describe('ledgerctl serve on a disk that fills up', () => {
  let dir: string;
  let mounted = false;
  beforeEach(() => {
    dir = tempDir('ledger-full-');
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir]).status === 0;
  });
  afterEach(() => {
    if (mounted) spawnSync('umount', [dir]);
    removeDir(dir);
  });

  it('answers UNAVAILABLE, exits 2 with one line and loses nothing; a restart with space resumes', async () => {
    const dataDir = path.join(dir, 'data');
    const limit = mounted ? '' : 'ulimit -f 1024; ';
    // SIGXFSZ ignored (inherited through exec): the write fails with EFBIG instead of killing.
    const serve = spawn(
      'bash',
      [
        '-c',
        `trap '' XFSZ; ${limit}exec "$0" "$@"`,
        process.execPath,
        CLI,
        'serve',
        '--port',
        '0',
        '--data-dir',
        dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    serve.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    serve.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = once(serve, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
    while (!stdout.includes('\n')) await new Promise((r) => setTimeout(r, 20));
    const port = /:(\d+) \(storage/.exec(stdout)?.[1];
    const client = new LedgerClient(`127.0.0.1:${port}`, { deadlineMs: 10_000 });
    const acknowledged: string[] = [];
    const refusals: LedgerCallError[] = [];
    try {
      for (let batch = 0; refusals.length === 0 && batch < 400; batch++) {
        await Promise.all(
          Array.from({ length: 25 }, async (_, k) => {
            const id = `acct-${batch}-${k}-${'x'.repeat(40)}`;
            try {
              await client.createAccount(id, 10n, `create-${id}`);
              acknowledged.push(id);
            } catch (err) {
              if (!(err instanceof LedgerCallError)) throw err;
              refusals.push(err);
            }
          }),
        );
      }
    } finally {
      client.close();
    }
    expect(refusals.length).toBeGreaterThan(0);
    // The writes waiting on the failed flush got the contract's answer (any later call may find
    // the server gone already: the drain closes it).
    expect(
      refusals.some((err) => err.code === grpc.status.UNAVAILABLE && err.details === STORAGE_FAILED),
    ).toBe(true);
    for (const err of refusals) expect(err.code).toBe(grpc.status.UNAVAILABLE);
    const [code, signal] = await exited;
    expect([code, signal]).toEqual([2, null]);
    const lines = stderr.trim().split('\n');
    expect(
      lines.some(
        (line) => line.includes('"level":60') && line.includes('storage failed; writes are refused'),
      ),
    ).toBe(true);
    const ours = lines.filter((line) => line.startsWith('ledgerctl: '));
    expect(ours).toHaveLength(1);
    expect(ours[0]).toMatch(/^ledgerctl: storage failed: writing to data dir .* failed \(.*\); stopped/);
    expect(stderr).not.toMatch(/\n\s+at /);

    // Space is back: a restart recovers every acknowledged write and takes new ones.
    if (mounted) expect(spawnSync('mount', ['-o', 'remount,size=16m', dir]).status).toBe(0);
    const restarted = new CliProcess([
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--log-level',
      'silent',
    ]);
    const line = await restarted.firstLine();
    const again = new LedgerClient(`127.0.0.1:${/:(\d+) \(storage/.exec(line)?.[1]}`, { deadlineMs: 10_000 });
    try {
      const snapshot = (await again.getSnapshot(false)).value;
      expect(snapshot.accountCount).toBeGreaterThanOrEqual(acknowledged.length);
      for (const id of acknowledged.slice(-50)) expect((await again.getBalance(id)).value.balance).toBe(10n);
      await again.createAccount('after-space-is-back', 1n);
    } finally {
      again.close();
      restarted.child.kill('SIGTERM');
      expect((await restarted.result).code).toBe(0);
    }
    expect(fs.existsSync(path.join(dataDir, 'LOCK'))).toBe(false);
  }, 60_000);
});
