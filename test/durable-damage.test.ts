import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DATA_FILE, type StartupCheck } from '../src/engine/lmdb-storage.js';
import { SeededRandom } from '../src/harness/seeded-random.js';
import { runCli } from './cli-run.js';
import { openDurable, removeDir, runNode, tempDir } from './durable-fixture.js';

/*
 * The damage kit: a data dir is damaged the ways disks, file systems and operators damage files
 * (garbage pages, zeroed pages, bit flips at seeded offsets, truncation, a deleted data file), and
 * then opened as the server opens it, in a child (LMDB may abort a process on a damaged page, and
 * the test must see that rather than die of it). Every outcome must be either a clean refusal (one
 * line, no signal) or the exact ledger that was written: never a wrong balance, never a crash.
 * Each case is opened twice: the same outcome both times, so a supervisor's restart cannot loop
 * on a crash.
 */

const ACCOUNTS = 3_000;
const TRANSFERS = 2_000;
const PAGE_BYTES = 4096;

/** Child: open and recover as `serve` does, then read every account and every logged transfer. */
const OPEN_AND_READ = `
import { LedgerEngine } from ENGINE;
import { LmdbStorage } from STORAGE;
import { createHash } from 'node:crypto';
let storage;
try {
  storage = await LmdbStorage.open(process.argv[2], { startupCheck: process.argv[3] });
} catch (err) {
  console.log(JSON.stringify({ ok: false, name: err.name, problem: err.problem, message: err.message }));
  process.exit(0);
}
try {
  const engine = await LedgerEngine.open({ storage, onFatal: () => {} });
  const snapshot = engine.getSnapshot(true);
  const digest = createHash('sha256');
  for (const a of snapshot.accounts) digest.update(a.id + ':' + a.balance + ':' + a.version + '\\n');
  // Reads that hit the disk later in a server's life: a full pass of the idempotency-record sweep
  // (every record), and log entries read from disk by transaction id.
  storage.txRecords.sweepSlice(Number.POSITIVE_INFINITY);
  let logged = 0;
  for (let i = 0; i < ${TRANSFERS}; i++) {
    const entry = await storage.findLogEntry('t-' + i);
    if (entry?.transactionId === 't-' + i) logged++;
  }
  console.log(JSON.stringify({
    ok: true,
    accounts: snapshot.accountCount,
    total: snapshot.totalBalance.toString(),
    digest: digest.digest('hex'),
    logged,
    failure: engine.storageFailure?.message,
  }));
  await engine.close();
} catch (err) {
  console.log(JSON.stringify({ ok: false, name: err.name, problem: err.problem, message: err.message }));
}
`;

const ENGINE_MODULE = new URL('../dist/src/engine/ledger-engine.js', import.meta.url).href;

interface Outcome {
  ok: boolean;
  problem?: string;
  message?: string;
  accounts?: number;
  total?: string;
  digest?: string;
  logged?: number;
  failure?: string;
}

async function openInChild(
  dir: string,
  check: StartupCheck = 'records',
): Promise<{ outcome: Outcome; signal: NodeJS.Signals | null }> {
  const child = await runNode(OPEN_AND_READ.replace('ENGINE', JSON.stringify(ENGINE_MODULE)), [dir, check]);
  expect(child.signal, `the opening process died of ${child.signal}: ${child.stderr}`).toBe(null);
  const line = child.stdout.trim().split('\n').pop() ?? '';
  return { outcome: JSON.parse(line) as Outcome, signal: child.signal };
}

type Damage = (file: string, random: SeededRandom) => string;

function pagesOf(file: string): number {
  return Math.floor(fs.statSync(file).size / PAGE_BYTES);
}

function writeAt(file: string, offset: number, bytes: Buffer): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

const garbagePage: Damage = (file, random) => {
  const page = 2 + random.below(pagesOf(file) - 2);
  const bytes = Buffer.alloc(PAGE_BYTES);
  for (let i = 0; i < PAGE_BYTES; i++) bytes[i] = random.below(256);
  writeAt(file, page * PAGE_BYTES, bytes);
  return `garbage page ${page}`;
};

const zeroedPage: Damage = (file, random) => {
  const page = 2 + random.below(pagesOf(file) - 2);
  writeAt(file, page * PAGE_BYTES, Buffer.alloc(PAGE_BYTES));
  return `zeroed page ${page}`;
};

const bitFlips: Damage = (file, random) => {
  const size = fs.statSync(file).size;
  const data = fs.readFileSync(file);
  const offsets: number[] = [];
  for (let i = 0; i < 8; i++) {
    const offset = random.below(size);
    data[offset]! ^= 1 << random.below(8);
    offsets.push(offset);
  }
  fs.writeFileSync(file, data);
  return `bit flips at ${offsets.join(',')}`;
};

const truncation: Damage = (file, random) => {
  const size = fs.statSync(file).size;
  const keep = PAGE_BYTES * (2 + random.below(pagesOf(file) - 3));
  fs.truncateSync(file, keep);
  return `truncated from ${size} to ${keep} bytes`;
};

const deletion: Damage = (file) => {
  fs.rmSync(file);
  return 'data file deleted';
};

describe('damage kit: a damaged data file is refused or served exactly, never wrong, never a crash', () => {
  let template: string;
  let expected: Outcome;
  const dirs: string[] = [];

  beforeAll(async () => {
    template = tempDir('ledger-damage-template-');
    // One write at a time: every commit is its own transaction, so the file's page layout, and
    // where a seeded offset lands, is the same on every run.
    const engine = await openDurable(template);
    for (let i = 0; i < ACCOUNTS; i++) {
      await engine.createAccount({ accountId: `acct-${String(i).padStart(5, '0')}`, initialBalance: 1000n });
    }
    const random = new SeededRandom(9);
    for (let i = 0; i < TRANSFERS; i++) {
      const from = random.below(ACCOUNTS);
      const to = (from + 1 + random.below(ACCOUNTS - 1)) % ACCOUNTS;
      await engine.transferFunds({
        fromId: `acct-${String(from).padStart(5, '0')}`,
        toId: `acct-${String(to).padStart(5, '0')}`,
        amount: 3n,
        transactionId: `t-${i}`,
      });
    }
    await engine.close();
    const intact = await openInChild(template);
    expected = intact.outcome;
    expect(expected).toMatchObject({ ok: true, accounts: ACCOUNTS, total: String(ACCOUNTS * 1000) });
  }, 120_000);

  afterAll(() => {
    removeDir(template);
    for (const dir of dirs) removeDir(dir);
  });

  // Damage to whole pages must be refused by the fast page scan too; damage inside a page (bit
  // flips) needs the record check to be refused before LMDB reads it.
  const cases: [string, Damage, number[], StartupCheck[]][] = [
    ['garbage page', garbagePage, [1, 2, 3, 4], ['records', 'pages']],
    ['zeroed page', zeroedPage, [5, 6, 7, 8], ['records', 'pages']],
    ['bit flips', bitFlips, [11, 12, 13], ['records']],
    ['truncation', truncation, [21, 22], ['records', 'pages']],
    ['deleted data file', deletion, [0], ['records', 'pages']],
  ];
  const refusals: string[] = [];
  for (const [name, damage, seeds, checks] of cases) {
    for (const check of checks) {
      it.each(seeds)(`${name}, seed %i, --startup-check ${check}`, async (seed) => {
        const dir = tempDir('ledger-damage-');
        dirs.push(dir);
        fs.cpSync(template, dir, { recursive: true });
        const what = damage(path.join(dir, DATA_FILE), new SeededRandom(seed));
        const first = await openInChild(dir, check);
        const second = await openInChild(dir, check);
        const { outcome } = first;
        if (outcome.ok) {
          // The damage hit nothing in use (a free page, slack space): the ledger is exactly intact.
          expect(outcome, what).toEqual(expected);
        } else {
          if (check === 'records') refusals.push(what);
          expect(outcome.problem, `${what}: ${outcome.message}`).toBe('corrupt');
          expect(outcome.message).not.toContain('\n');
          expect(outcome.message).toMatch(/damaged|missing/);
        }
        // A restart ends the same way: no crash loop, no other answer. (The words may differ: what
        // liblmdb does with a damaged pointer in the checking child is undefined, a refusal either way.)
        if (outcome.ok) expect(second.outcome).toEqual(outcome);
        else
          expect(second.outcome, `${what}: ${second.outcome.message}`).toMatchObject({
            ok: false,
            problem: 'corrupt',
          });
      });
    }
  }

  it('refused most of the damage above (pages in use)', () => {
    // A fresh file has few free pages: most damage must land in used pages and be refused.
    expect(refusals.length).toBeGreaterThanOrEqual(9);
  });

  it('serve refuses a damaged data file with one line and exit 2, every time', async () => {
    const dir = tempDir('ledger-damage-serve-');
    dirs.push(dir);
    fs.cpSync(template, dir, { recursive: true });
    // The accounts sit in the middle of the file's pages: overwrite a run of them.
    const file = path.join(dir, DATA_FILE);
    const pages = pagesOf(file);
    for (let page = Math.floor(pages / 3); page < Math.floor(pages / 3) + 4; page++) {
      writeAt(file, page * PAGE_BYTES, Buffer.alloc(PAGE_BYTES, 0x5a));
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      const result = await runCli(['serve', '--port', '0', '--data-dir', dir]);
      expect(result.code).toBe(2);
      expect(result.stdout).not.toContain('listening');
      const lines = result.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^ledgerctl: data (file|dir) .* (is )?damaged/);
    }
  });
});
