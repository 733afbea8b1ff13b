import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LedgerClient } from '../src/client/ledger-client.js';
import { CliProcess, oneErrorLine, runCli } from './cli-run.js';

const LISTENING =
  /^ledgerctl listening on 127\.0\.0\.1:(\d+) \(storage: memory, locking: (account|global)\)$/;

describe('ledgerctl serve', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)(
    'prints one line with the real port, serves, and exits 0 on %s',
    async (signal) => {
      const serve = new CliProcess(['serve', '--port', '0', '--in-memory', '--log-level', 'silent']);
      const line = await serve.firstLine();
      const [, port, locking] = LISTENING.exec(line) ?? [];
      expect(locking).toBe('account');
      expect(Number(port)).toBeGreaterThan(0);

      const client = new LedgerClient(`127.0.0.1:${port}`);
      try {
        await client.createAccount('alice', 5n);
        expect((await client.getBalance('alice')).value.balance).toBe(5n);
      } finally {
        client.close();
      }

      serve.child.kill(signal);
      const result = await serve.result;
      expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
      expect(result.stdout).toBe(`${line}\n`);
    },
  );

  it('says which locking mode it runs', async () => {
    const serve = new CliProcess(['serve', '--port', '0', '--in-memory', '--locking', 'global']);
    expect(LISTENING.exec(await serve.firstLine())?.[2]).toBe('global');
    serve.child.kill('SIGTERM');
    expect(await serve.result).toMatchObject({ code: 0, signal: null });
  });

  it('refuses a port in use with one line and exit 2', async () => {
    const squatter = createServer().listen(0, '127.0.0.1');
    await once(squatter, 'listening');
    const { port } = squatter.address() as { port: number };
    try {
      const result = await runCli(['serve', '--port', String(port), '--in-memory']);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(oneErrorLine(result.stderr)).toBe(
        `ledgerctl: cannot listen on 127.0.0.1:${port}: address already in use`,
      );
    } finally {
      squatter.close();
    }
  });

  it('serves from --data-dir and refuses a second server on it with one line and exit 2', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ledgerctl-cli-'));
    const dataDir = join(dir, 'data');
    const first = new CliProcess(['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'silent']);
    try {
      expect(await first.firstLine()).toMatch(
        new RegExp(
          `^ledgerctl listening on 127\\.0\\.0\\.1:\\d+ \\(storage: \\w+ in ${dataDir}, locking: account\\)$`,
        ),
      );
      const second = await runCli(['serve', '--port', '0', '--data-dir', dataDir]);
      expect(second.code).toBe(2);
      expect(second.stdout).toBe('');
      expect(oneErrorLine(second.stderr)).toContain(dataDir);
    } finally {
      first.child.kill('SIGTERM');
      expect((await first.result).code).toBe(0);
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Each bad value must be named in the message together with its flag.
  const badInvocations: Array<[string, string[], RegExp]> = [
    ['a port that is not a number', ['--port', 'http'], /'--port <port>' argument 'http'.*0 to 65535/],
    ['a port out of range', ['--port', '65536'], /'--port <port>' argument '65536'/],
    ['a duration without a unit', ['--txid-ttl', '24'], /'--txid-ttl <duration>' argument '24'.*unit/],
    ['a zero duration', ['--shutdown-grace', '0s'], /'--shutdown-grace <duration>' argument '0s'/],
    ['an unknown locking mode', ['--locking', 'row'], /'--locking <mode>' argument 'row'.*account, global/],
    ['an unknown log level', ['--log-level', 'loud'], /'--log-level <level>' argument 'loud'/],
    ['a non-integer count', ['--max-txids', '1e6'], /'--max-txids <n>' argument '1e6'.*positive integer/],
    ['an empty data dir', ['--data-dir', ''], /'--data-dir <dir>' argument ''/],
    ['--in-memory with --data-dir', ['--in-memory', '--data-dir', 'x'], /'--in-memory' cannot be used with/],
    [
      '--log-retention with --in-memory',
      ['--in-memory', '--log-retention', '30d'],
      /'--log-retention <duration>' cannot be used with option '--in-memory'/,
    ],
    [
      'a txid cache as large as the cap',
      ['--txid-cache', '200000', '--max-txids', '200000'],
      /--txid-cache 200000 must be below --max-txids 200000/,
    ],
    ['a zero txid cache', ['--txid-cache', '0'], /'--txid-cache <n>' argument '0'.*positive integer/],
    ['an unknown flag', ['--prot', '1'], /unknown option '--prot'/],
    [
      'a cap below the sweep threshold',
      ['--max-txids', '10'],
      /--max-txids 10 is below --txid-sweep-threshold/,
    ],
  ];

  it.each(badInvocations)('refuses %s: exit 2, one line, no stack', async (_what, flags, message) => {
    const result = await runCli(['serve', ...flags]);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(oneErrorLine(result.stderr)).toMatch(message);
  });

  it.each([[[]], [['serve']], [['query-log']], [['balance']], [['snapshot']]])(
    '%j --help exits 0',
    async (command) => {
      const result = await runCli([...command, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: ledgerctl/);
    },
  );
});
