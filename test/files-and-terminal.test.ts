import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { escapeControls } from '../src/cli/output.js';
import { LmdbStorage } from '../src/engine/lmdb-storage.js';
import { oneErrorLine, runCli } from './cli-run.js';
import { startTestServer, type TestServer } from './server-fixture.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe("data files are the server user's alone", () => {
  test('a new data dir is 0700 and every file in it 0600', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ledger-modes-'));
    try {
      const dir = join(parent, 'data');
      const storage = await LmdbStorage.open(dir);
      try {
        expect(mode(dir).toString(8)).toBe('700');
        const files = readdirSync(dir);
        expect(files.length).toBeGreaterThan(1);
        for (const f of files) expect([f, mode(join(dir, f)).toString(8)]).toEqual([f, '600']);
      } finally {
        await storage.close();
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('a backup is as private as the data dir it copies', () => {
  test('ledgerctl backup writes a 0700 dir of 0600 files', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'ledger-backup-modes-'));
    try {
      const data = join(parent, 'data');
      const storage = await LmdbStorage.open(data);
      await storage.close();
      const copy = join(parent, 'copy');
      const result = await runCli(['backup', '--data-dir', data, '--to', copy]);
      expect(result.code).toBe(0);
      expect(mode(copy).toString(8)).toBe('700');
      const files = readdirSync(copy);
      expect(files.length).toBeGreaterThan(1);
      for (const f of files) expect([f, mode(join(copy, f)).toString(8)]).toEqual([f, '600']);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});

describe('terminal output escapes control characters in ids', () => {
  test('escapeControls', () => {
    expect(escapeControls('\u001b[31mred\u001b[0m')).toBe('\\x1b[31mred\\x1b[0m');
    expect(escapeControls('a\u009bb\u007f\r\n\t')).toBe('a\\x9bb\\x7f\\x0d\\x0a\\x09');
    expect(escapeControls('abc\u202eexe.txt')).toBe('abc\\u202eexe.txt');
    expect(escapeControls('plain-id €')).toBe('plain-id €');
  });

  let t: TestServer;
  const evil = '\u001b[2J\u001b[31mmallory\u001b[0m';
  beforeAll(async () => {
    t = await startTestServer();
    await t.client.createAccount(evil, 7n, 'tx-\u001b]0;pwned\u0007');
  });
  afterAll(() => t.stop());

  test.each([
    ['snapshot --accounts', ['snapshot', '--accounts']],
    ['balance', ['balance', evil]],
    ['query-log', ['query-log', 'tx-\u001b]0;pwned\u0007']],
  ])('%s prints the id escaped, with no raw escape character', async (_name, args) => {
    const out = await runCli([...args, '--target', t.server.target]);
    expect(out.code).toBe(0);
    expect(out.stdout.includes('\u001b') || out.stdout.includes('\u0007')).toBe(false);
    expect(out.stdout).toContain('\\x1b[31mmallory\\x1b[0m');
  });

  test('an error quoting an id is escaped too', async () => {
    const out = await runCli(['balance', '\u001b[31mnobody', '--target', t.server.target]);
    expect(out.code).toBe(1);
    expect(oneErrorLine(out.stderr)).toBe('ledgerctl: Account \\x1b[31mnobody not found');
  });
});
