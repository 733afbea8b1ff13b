import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LedgerClient } from '../src/client/ledger-client.js';
import { DATA_FILE } from '../src/engine/lmdb-storage.js';
import { CliProcess, oneErrorLine, runCli } from './cli-run.js';
import { openDurable, removeDir, runNode, tempDir } from './durable-fixture.js';

const ACCOUNTS = 40;

async function populated(dir: string): Promise<void> {
  const engine = await openDurable(dir);
  for (let i = 0; i < ACCOUNTS; i++)
    await engine.createAccount({ accountId: `acct-${i}`, initialBalance: 100n });
  for (let i = 0; i < 30; i++)
    await engine.transferFunds({
      fromId: `acct-${i}`,
      toId: `acct-${i + 3}`,
      amount: 9n,
      transactionId: `t-${i}`,
    });
  await engine.updateBalance({ accountId: 'acct-5', delta: 11n, transactionId: 'u-1' });
  await engine.close();
}

/** Rewrites records of a closed data dir in a child (its own LMDB env), with valid checksums. */
async function rewrite(dir: string, body: string): Promise<void> {
  const codec = new URL('../dist/src/engine/durable-codec.js', import.meta.url).href;
  const root = new URL('../dist/src/engine/durable-root.js', import.meta.url).href;
  const child = await runNode(
    `import * as codec from ${JSON.stringify(codec)};
     import { openDataRoot, openSubDatabases } from ${JSON.stringify(root)};
     const root = openDataRoot(process.argv[2] + '/ledger.mdb');
     const dbs = openSubDatabases(root);
     ${body}
     await root.close();`,
    [dir],
  );
  expect(child.stderr).toBe('');
}

function serve(dir: string): CliProcess {
  return new CliProcess(['serve', '--port', '0', '--data-dir', dir, '--log-level', 'silent']);
}

async function clientOf(server: CliProcess): Promise<LedgerClient> {
  const port = /:(\d+) \(storage/.exec(await server.firstLine())?.[1];
  return new LedgerClient(`127.0.0.1:${port}`, { deadlineMs: 10_000 });
}

describe('ledgerctl verify and backup', () => {
  let dir: string;
  const others: string[] = [];
  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => {
    removeDir(dir);
    for (const other of others.splice(0)) removeDir(other);
  });

  it('verify: a healthy data dir passes every check, exit 0, with a summary', async () => {
    await populated(dir);
    const result = await runCli(['verify', '--data-dir', dir]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/accounts\s*│ 40 /);
    expect(result.stdout).toMatch(/total balance\s*│ 4011 /);
    expect(result.stdout).toMatch(/positions 1\.\.71 \(71 entries\)/);
    expect(result.stdout).toMatch(/result\s*│ OK /);
    const json = JSON.parse((await runCli(['verify', '--data-dir', dir, '--json'])).stdout);
    expect(json).toMatchObject({ problemCount: 0, accounts: 40, totalBalance: '4011', lastPosition: 71 });
  });

  it('verify: a record that fails its checksum is a problem, exit 1, naming the record', async () => {
    await populated(dir);
    await rewrite(
      dir,
      `const v = Buffer.from(dbs.log.get(12)); v[v.length - 2] ^= 0x40; dbs.log.putSync(12, v);`,
    );
    const result = await runCli(['verify', '--data-dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/result\s*│ DAMAGED: \d+ problems/);
    expect(result.stdout.match(/problem: log entry "12" fails its checksum/g)).toHaveLength(1);
  });

  it('verify: damage every checksum and the head agree with is found by replaying the log', async () => {
    await populated(dir);
    // A valid record with a wrong balance, and a head adjusted to match: only the replay sees it.
    await rewrite(
      dir,
      `const head = codec.decodeHead(dbs.meta.get('head'));
       const a = codec.decodeAccount('acct-20', dbs.accounts.get('acct-20'));
       dbs.accounts.putSync('acct-20', codec.encodeAccount({ ...a, balance: a.balance + 500n }));
       dbs.meta.putSync('head', codec.encodeHead({ ...head, totalBalance: head.totalBalance + 500n }));`,
    );
    const result = await runCli(['verify', '--data-dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/problem: account acct-20 holds \d+, its newest log entry says \d+/);
    expect(result.stdout).toContain(
      'problem: initial deposits + logged deltas = 4011, the accounts sum to 4511',
    );
  });

  it('verify: a log entry naming an account that does not exist, and an index that disagrees', async () => {
    await populated(dir);
    await rewrite(
      dir,
      `dbs.accounts.removeSync('acct-39');
       const head = codec.decodeHead(dbs.meta.get('head'));
       dbs.meta.putSync('head', codec.encodeHead({ ...head, accounts: head.accounts - 1, totalBalance: head.totalBalance - 109n }));
       dbs.logIndex.putSync('t-3', codec.encodeIndexEntry('t-3', 2));`,
    );
    const result = await runCli(['verify', '--data-dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('names account acct-39, which does not exist');
    expect(result.stdout).toMatch(/index entry of t-3 points to 2, before its entry at \d+/);
  });

  it('verify refuses what is not a data dir with one line, exit 2', async () => {
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    const result = await runCli(['verify', '--data-dir', dir]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(/not a ledgerctl data dir/);
  });

  it('verify and backup run against a live server under writes; the backup restores by starting on it', async () => {
    await populated(dir);
    const server = serve(dir);
    const client = await clientOf(server);
    const copy = path.join(tempDir('ledger-backup-'), 'copy');
    others.push(path.dirname(copy));
    let writing = true;
    let writes = 0;
    const load = (async () => {
      while (writing) {
        await client.transferFunds(
          `acct-${writes % ACCOUNTS}`,
          `acct-${(writes + 7) % ACCOUNTS}`,
          1n,
          `live-${writes}`,
        );
        writes++;
      }
    })();
    try {
      const verified = await runCli(['verify', '--data-dir', dir]);
      expect(verified.stdout).toMatch(/result\s*│ OK /);
      expect(verified.code).toBe(0);
      const backup = await runCli(['backup', '--data-dir', dir, '--to', copy]);
      expect(backup.stderr).toBe('');
      expect(backup.code).toBe(0);
      expect(backup.stdout).toContain(`backup written to ${copy}`);
      expect(backup.stdout).toContain(`restore with: ledgerctl serve --data-dir ${copy}`);
    } finally {
      writing = false;
      await load;
      client.close();
      server.child.kill('SIGTERM');
      expect((await server.result).code).toBe(0);
    }
    expect(writes).toBeGreaterThan(0);
    expect(fs.readdirSync(copy).sort()).toEqual(['FORMAT', DATA_FILE]);
    // Restore: a server on the copy serves a consistent ledger (transfers conserve the total).
    const restored = serve(copy);
    const again = await clientOf(restored);
    try {
      const snapshot = (await again.getSnapshot(false)).value;
      expect(snapshot).toMatchObject({ accountCount: BigInt(ACCOUNTS), totalBalance: 4011n });
      expect(snapshot.logPosition).toBeGreaterThanOrEqual(71n);
      await again.createAccount('after-restore', 1n);
    } finally {
      again.close();
      restored.child.kill('SIGTERM');
      expect((await restored.result).code).toBe(0);
    }
  }, 60_000);

  it('backup refuses a target that exists and is not empty, with one line, exit 2', async () => {
    await populated(dir);
    const target = tempDir('ledger-backup-target-');
    others.push(target);
    fs.writeFileSync(path.join(target, 'keep.txt'), 'mine');
    const result = await runCli(['backup', '--data-dir', dir, '--to', target]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(/already exists and is not an empty directory/);
    expect(fs.readdirSync(target)).toEqual(['keep.txt']);
  });
});
