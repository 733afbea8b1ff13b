import * as fs from 'node:fs';
import * as path from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeFormatVersion } from '../src/engine/durable-codec.js';
import { DataDirError } from '../src/engine/durable-errors.js';
import { DURABLE_FORMAT_VERSION, FORMAT_FILE } from '../src/engine/durable-format.js';
import { DATA_FILE, LmdbStorage } from '../src/engine/lmdb-storage.js';
import { openStorage } from '../src/engine/open-storage.js';
import { fingerprintDir, openDurable, removeDir, runNode, tempDir } from './durable-fixture.js';

async function refusal(work: () => Promise<unknown>): Promise<DataDirError> {
  try {
    await work();
  } catch (err) {
    if (err instanceof DataDirError) return err;
    throw err;
  }
  throw new Error('expected a DataDirError');
}

/** A data dir holding one account, closed cleanly. */
async function populated(dir: string): Promise<void> {
  const engine = await openDurable(dir);
  for (let i = 0; i < 300; i++) await engine.createAccount({ accountId: `acct-${i}`, initialBalance: 100n });
  await engine.close();
}

/** Child script: open the dir and report what happened as one JSON line. */
const TRY_OPEN = `
import { LmdbStorage } from STORAGE;
try {
  const storage = await LmdbStorage.open(process.argv[2]);
  const recovered = await storage.recover(100);
  console.log(JSON.stringify({ ok: true, accounts: recovered.stats.accounts }));
  await storage.close();
} catch (err) {
  console.log(JSON.stringify({ ok: false, name: err.name, problem: err.problem, message: err.message }));
}
`;

describe('durable data dir safety', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => removeDir(dir));

  it('creates a missing data dir and marks its format version', async () => {
    const nested = path.join(dir, 'a', 'b');
    const storage = await openStorage({ inMemory: false, dataDir: nested });
    expect(storage.kind).toBe('lmdb');
    await storage.close();
    expect(JSON.parse(fs.readFileSync(path.join(nested, FORMAT_FILE), 'utf8'))).toMatchObject({
      version: DURABLE_FORMAT_VERSION,
    });
    expect(fs.existsSync(path.join(nested, 'LOCK'))).toBe(false);
  });

  it('refuses a second server on the same data dir, in another process and in this one', async () => {
    const storage = await LmdbStorage.open(dir);
    try {
      const child = await runNode(TRY_OPEN, [dir]);
      const answer = JSON.parse(child.stdout);
      expect(answer).toMatchObject({ ok: false, name: 'DataDirError', problem: 'locked' });
      expect(answer.message).toContain(`pid ${process.pid}`);
      expect(answer.message).not.toContain('\n');
      expect((await refusal(() => LmdbStorage.open(dir))).problem).toBe('locked');
    } finally {
      await storage.close();
    }
    // Released on close: the next server opens it.
    expect(JSON.parse((await runNode(TRY_OPEN, [dir])).stdout)).toMatchObject({ ok: true });
  });

  it('takes over the stale lock of a server killed with SIGKILL', async () => {
    await populated(dir);
    const holder = await runNode(
      `import { LmdbStorage } from STORAGE;
       const storage = await LmdbStorage.open(process.argv[2]);
       await storage.recover(100);
       process.kill(process.pid, 'SIGKILL');`,
      [dir],
    );
    expect(holder.signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(true);
    const engine = await openDurable(dir);
    expect(engine.getSnapshot(false)).toMatchObject({ accountCount: 300, totalBalance: 30_000n });
    await engine.close();
  });

  it('refuses a LOCK held on another host, says how to take it over, and --force-unlock does', async () => {
    await populated(dir);
    const foreign = `${JSON.stringify({ pid: 4242, startTicks: '1', host: 'ledger-7f9c-old-pod' })}\n`;
    fs.writeFileSync(path.join(dir, 'LOCK'), foreign);
    const err = await refusal(() => LmdbStorage.open(dir));
    expect(err.problem).toBe('locked');
    expect(err.message).toContain('locked by a ledgerctl on host ledger-7f9c-old-pod (pid 4242)');
    expect(err.message).toContain('start again with --force-unlock');
    expect(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8')).toBe(foreign);
    const storage = await LmdbStorage.open(dir, { forceUnlock: true });
    try {
      expect((await storage.recover(10)).stats?.accounts).toBe(300);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8'))).toMatchObject({ pid: process.pid });
      // A live holder on this host is never taken over, forced or not.
      const child = await runNode(
        `import { LmdbStorage } from STORAGE;
         try { await LmdbStorage.open(process.argv[2], { forceUnlock: true }); console.log('opened'); }
         catch (err) { console.log(err.problem); }`,
        [dir],
      );
      expect(child.stdout.trim()).toBe('locked');
    } finally {
      await storage.close();
    }
  });

  it('refuses a data dir written by a newer format version and leaves it untouched', async () => {
    await populated(dir);
    fs.writeFileSync(
      path.join(dir, FORMAT_FILE),
      `${JSON.stringify({ format: 'ledgerctl-data', version: DURABLE_FORMAT_VERSION + 1, engine: 'lmdb' })}\n`,
    );
    const before = fingerprintDir(dir);
    const err = await refusal(() => LmdbStorage.open(dir));
    expect(err.problem).toBe('too-new');
    expect(err.message).toContain(
      `format version ${DURABLE_FORMAT_VERSION + 1}, newer than this ledgerctl supports (${DURABLE_FORMAT_VERSION})`,
    );
    expect(fingerprintDir(dir)).toEqual(before);
  });

  it('refuses a data file whose inner format version is newer', async () => {
    await populated(dir);
    const root = open({ path: path.join(dir, DATA_FILE), noSubdir: true, maxDbs: 8, encoding: 'binary' });
    root.openDB({ name: 'meta' }).putSync('formatVersion', encodeFormatVersion(DURABLE_FORMAT_VERSION + 1));
    await root.close();
    expect((await refusal(() => LmdbStorage.open(dir))).problem).toBe('too-new');
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });

  it('refuses a non-empty directory that is not a ledger data dir', async () => {
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const before = fingerprintDir(dir);
    expect((await refusal(() => LmdbStorage.open(dir))).problem).toBe('not-a-data-dir');
    expect(fingerprintDir(dir)).toEqual(before);
  });

  const corruptions: Array<[string, (fd: number, size: number) => void]> = [
    ['overwritten header', (fd) => fs.writeSync(fd, Buffer.alloc(8192, 0x5a), 0, 8192, 0)],
    ['truncated file', (fd) => fs.ftruncateSync(fd, 3 * 4096)],
    [
      'damaged records',
      (fd, size) => fs.writeSync(fd, Buffer.alloc(size - 4 * 4096, 0x5a), 0, size - 4 * 4096, 2 * 4096),
    ],
  ];
  for (const [name, damage] of corruptions) {
    it(`refuses a corrupted data file (${name}) with a clear error and leaves it untouched`, async () => {
      await populated(dir);
      const fd = fs.openSync(path.join(dir, DATA_FILE), 'r+');
      damage(fd, fs.fstatSync(fd).size);
      fs.closeSync(fd);
      const before = fingerprintDir(dir);
      // In a child: if a damage got past the checks LMDB would crash the process, not throw.
      const child = await runNode(TRY_OPEN, [dir]);
      expect(child.signal).toBe(null);
      const answer = JSON.parse(child.stdout);
      expect(answer).toMatchObject({ ok: false, problem: 'corrupt' });
      expect(answer.message).toMatch(/damaged/);
      expect(fingerprintDir(dir)).toEqual(before);
    });
  }
});
