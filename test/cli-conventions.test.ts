import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerServe, serveEnvVar } from '../src/cli/commands/serve.js';
import { parseTarget, parseTargets } from '../src/cli/target.js';
import { colourEnabled } from '../src/harness/table-style.js';
import { CLI, CliProcess, cleanEnv, oneErrorLine, runCli } from './cli-run.js';
import { staleSource } from './global-setup.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

describe('one target parser', () => {
  it.each([
    ['127.0.0.1:50051', '127.0.0.1:50051'],
    ['my_host:50051', 'my_host:50051'],
    ['[::1]:50051', '[::1]:50051'],
    [' localhost:7 ', 'localhost:7'],
    ['dns:127.0.0.1:50051', 'dns:127.0.0.1:50051'],
    ['dns:///ledger.internal:50051', 'dns:///ledger.internal:50051'],
    ['dns://8.8.8.8/ledger.internal:50051', 'dns://8.8.8.8/ledger.internal:50051'],
    ['unix:/run/ledger.sock', 'unix:/run/ledger.sock'],
    ['unix:///run/ledger.sock', 'unix:///run/ledger.sock'],
    ['unix:relative.sock', 'unix:relative.sock'],
  ])('accepts %s', (text, parsed) => {
    expect(parseTarget(text)).toBe(parsed);
  });

  it.each([
    'localhost',
    'localhost:0',
    'localhost:65536',
    'http://localhost:50051',
    'dns:localhost',
    'dns://8.8.8.8',
    'unix:',
    'unix://run/ledger.sock',
    'a b:1',
  ])('refuses %s', (text) => {
    expect(() => parseTarget(text)).toThrow(InvalidArgumentError);
  });

  it('splits a list for the harness commands', () => {
    expect(parseTargets('my_host:1,dns:127.0.0.1:2')).toEqual(['my_host:1', 'dns:127.0.0.1:2']);
  });

  it('the same refusal from snapshot and stress', async () => {
    const [snapshot, stress] = await Promise.all([
      runCli(['snapshot', '--target', 'nohost']),
      runCli(['stress', 'scenarios/lost-update-unit.yaml', '--target', 'nohost']),
    ]);
    for (const result of [snapshot, stress]) {
      expect(result.code).toBe(2);
      expect(oneErrorLine(result.stderr)).toMatch(/argument 'nohost' is invalid\. Expected host:port/);
    }
  });
});

describe('targets of every form reach a real server', () => {
  let serve: CliProcess;
  let port: string;
  let proxy: Server;
  const socket = join(mkdtempSync(join(tmpdir(), 'ledgerctl-unix-')), 'ledger.sock');

  beforeAll(async () => {
    serve = new CliProcess(['serve', '--port', '0', '--in-memory', '--log-level', 'silent']);
    port = /127\.0\.0\.1:(\d+)/.exec(await serve.firstLine())![1]!;
    // A unix socket in front of the TCP port: grpc-js's unix: target form end to end.
    proxy = createServer((conn) => {
      const upstream = createConnection(Number(port), '127.0.0.1');
      // Either side may close first when a client is done: that is not a test failure.
      conn.on('error', () => upstream.destroy());
      upstream.on('error', () => conn.destroy());
      conn.pipe(upstream).pipe(conn);
    });
    proxy.listen(socket);
    await once(proxy, 'listening');
  });

  afterAll(async () => {
    proxy.close();
    serve.child.kill('SIGTERM');
    await serve.result;
  });

  it.each([
    () => `127.0.0.1:${port}`,
    () => `dns:127.0.0.1:${port}`,
    () => `dns:///127.0.0.1:${port}`,
    () => `unix:${socket}`,
  ])('snapshot --target %#', async (target) => {
    const result = await runCli(['snapshot', '--json', '--target', target()]);
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout)).toMatchObject({ total_balance: expect.any(String) });
  });

  it('stress takes the same forms, and --json - puts only JSON on stdout', async () => {
    const result = await runCli([
      'stress',
      'scenarios/lost-update-unit.yaml',
      '--target',
      `dns:127.0.0.1:${port},unix:${socket}`,
      '--json',
      '-',
      '--no-status',
    ]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ scenario: 'lost-update-unit', exitCode: 0 });
    expect(json.target).toBe(`dns:127.0.0.1:${port},unix:${socket}`);
    expect(result.stderr).toMatch(/result: PASS/);
  });
});

describe('one colour rule (https://no-color.org)', () => {
  const withNoColor = (value: string | undefined, run: () => boolean): boolean => {
    const saved = process.env.NO_COLOR;
    if (value === undefined) delete process.env.NO_COLOR;
    else process.env.NO_COLOR = value;
    try {
      return run();
    } finally {
      if (saved === undefined) delete process.env.NO_COLOR;
      else process.env.NO_COLOR = saved;
    }
  };
  const tty = { isTTY: true };

  it('colours a terminal unless NO_COLOR is set to something non-empty', () => {
    expect(withNoColor(undefined, () => colourEnabled(tty))).toBe(true);
    expect(withNoColor('', () => colourEnabled(tty))).toBe(true);
    expect(withNoColor('1', () => colourEnabled(tty))).toBe(false);
    expect(withNoColor(undefined, () => colourEnabled({ isTTY: false }))).toBe(false);
  });
});

describe('serve refuses a PostgreSQL pool too small to split', () => {
  it('--db-pool-size 1: one line naming the flag, exit 2, nothing started', async () => {
    const result = await runCli(['serve', '--in-memory', '--port', '0', '--db-pool-size', '1']);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(
      /--db-pool-size.*'1' is invalid\. Expected an integer of at least 2\./,
    );
    expect(result.stdout).toBe('');
  });
});

describe('serve from the environment', () => {
  it('every serve flag has its LEDGER_ variable, documented in the README', () => {
    const program = new Command();
    registerServe(program);
    const serve = program.commands[0]!;
    expect(serve.options.length).toBeGreaterThan(10);
    for (const option of serve.options) {
      expect(option.envVar).toBe(serveEnvVar(option.long!));
      expect(readme).toContain(`\`${option.envVar}\``);
    }
  });

  it('LEDGER_PORT and LEDGER_IN_MEMORY start a server; LEDGER_IN_MEMORY=0 means off', async () => {
    const serve = new CliProcess(
      ['serve', '--log-level', 'silent'],
      cleanEnv({ LEDGER_PORT: '0', LEDGER_IN_MEMORY: '1' }),
    );
    expect(await serve.firstLine()).toMatch(
      /^ledgerctl listening on 127\.0\.0\.1:(?!50051\b)\d+ \(storage: memory,/,
    );
    serve.child.kill('SIGTERM');
    expect((await serve.result).code).toBe(0);

    const dataDir = mkdtempSync(join(tmpdir(), 'ledgerctl-env-'));
    const durable = new CliProcess(
      ['serve', '--log-level', 'silent', '--data-dir', dataDir],
      cleanEnv({ LEDGER_PORT: '0', LEDGER_IN_MEMORY: '0' }),
    );
    expect(await durable.firstLine()).toContain(`storage: lmdb in ${dataDir}`);
    durable.child.kill('SIGTERM');
    expect((await durable.result).code).toBe(0);
  });

  it('a bad value from the environment is one line naming the variable, exit 2', async () => {
    const result = await runCli(['serve'], cleanEnv({ LEDGER_PORT: '99999' }));
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(/from env 'LEDGER_PORT' is invalid/);
    const flag = await runCli(['serve'], cleanEnv({ LEDGER_IN_MEMORY: 'maybe' }));
    expect(flag.code).toBe(2);
    expect(oneErrorLine(flag.stderr)).toBe(
      'ledgerctl: LEDGER_IN_MEMORY=maybe is not a yes/no value: use 1 or 0 (true or false)',
    );
  });
});

describe('install and help conventions', () => {
  it('bin/ledgerctl.js before a build: one line saying to build, exit 2', () => {
    const checkout = mkdtempSync(join(tmpdir(), 'ledgerctl-unbuilt-'));
    mkdirSync(join(checkout, 'bin'));
    copyFileSync(CLI, join(checkout, 'bin', 'ledgerctl.js'));
    let stderr = '';
    let status = 0;
    try {
      execFileSync(process.execPath, [join(checkout, 'bin', 'ledgerctl.js'), '--help'], { stdio: 'pipe' });
    } catch (err) {
      ({ status, stderr } = err as { status: number; stderr: string });
    }
    expect(status).toBe(2);
    expect(oneErrorLine(String(stderr))).toBe(
      'ledgerctl: not built yet: run `npm run build` (or `npm ci`, which builds) in the ledgerctl checkout',
    );
  });

  it('builds on install (prepare) and takes its version from package.json', async () => {
    expect(manifest.scripts.prepare).toBe('npm run build');
    const result = await runCli(['--version']);
    expect(result.stdout.trim()).toBe(manifest.version);
  });

  it('every command ends its --help with two or three examples', async () => {
    const help = await runCli(['--help']);
    const commands = [...help.stdout.matchAll(/^ {2}([a-z-]+) /gm)]
      .map((m) => m[1]!)
      .filter((c) => c !== 'help');
    expect(commands).toContain('transfer');
    for (const command of commands) {
      const text = (await runCli([command, '--help'])).stdout.trimEnd();
      const examples = text
        .slice(text.lastIndexOf('\nExamples:\n') + 1)
        .split('\n')
        .slice(1);
      expect(text, command).toContain('\nExamples:\n');
      expect(examples.length, command).toBeGreaterThanOrEqual(2);
      expect(examples.length, command).toBeLessThanOrEqual(3);
      for (const line of examples) expect(line).toMatch(/^ {2}.*\bledgerctl /);
    }
  });
});

describe('a stale dist/ is rebuilt before the tests', () => {
  it('finds a source newer than its compiled file, and none when current', () => {
    const root = mkdtempSync(join(tmpdir(), 'ledgerctl-stale-'));
    for (const dir of ['src', 'bench', 'dist/src', 'dist/bench'])
      mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, 'src', 'a.ts'), '');
    writeFileSync(join(root, 'dist', 'src', 'a.js'), '');
    expect(staleSource(root)).toBeUndefined();
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(root, 'src', 'a.ts'), later, later);
    expect(staleSource(root)).toBe(join('src', 'a.ts'));
    writeFileSync(join(root, 'bench', 'b.ts'), '');
    utimesSync(join(root, 'src', 'a.ts'), new Date(0), new Date(0));
    expect(staleSource(root)).toBe(join('bench', 'b.ts'));
  });

  it('the real checkout is current once the tests run', () => {
    expect(staleSource()).toBeUndefined();
  });
});

describe('shell completion', () => {
  it('bash completes commands, flags and flag choices from the real command tree', async () => {
    const script = (await runCli(['completion', 'bash'])).stdout;
    const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-completion-'));
    writeFileSync(join(dir, 'ledgerctl.bash'), script);
    const complete = (...words: string[]) =>
      execFileSync(
        'bash',
        [
          '-c',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: bash syntax, run as is
          'source "$0"; COMP_WORDS=("${@}"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); _ledgerctl; echo "${COMPREPLY[*]}"',
          join(dir, 'ledgerctl.bash'),
          'ledgerctl',
          ...words,
        ],
        { cwd: dir, encoding: 'utf8' },
      ).trim();
    expect(complete('tra')).toBe('transfer');
    expect(complete('serve', '--lock')).toBe('--locking');
    expect(complete('serve', '--locking', '')).toBe('account global');
    expect(complete('gate', '--fail')).toBe('--fail-fast');
  });

  it('zsh gets a #compdef script with every command', async () => {
    const script = (await runCli(['completion', 'zsh'])).stdout;
    expect(script.startsWith('#compdef ledgerctl\n')).toBe(true);
    for (const command of ['serve', 'transfer', 'stress', 'gate', 'completion']) {
      expect(script).toMatch(new RegExp(`^ {4}${command}\\) _arguments `, 'm'));
    }
  });

  it('refuses another shell', async () => {
    const result = await runCli(['completion', 'fish']);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(
      /value 'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh/,
    );
  });
});

describe('gate takes files and directories, and --fail-fast', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ledgerctl-gate-'));
  const scenario = (name: string, server: string) => `name: ${name}
ci: false
${server}
accounts:
  - { id: acc, balance: 0 }
phases:
  - name: storm
    timeout: 20s
    groups:
      - name: plus-one
        script: { op: update, account: acc, amount: 1 }
        load: { model: closed, callers: 50 }
        ops: 100
expect:
  final_balances: { acc: 100 }
`;
  const broken = join(dir, 'broken.yaml');
  const fine = join(dir, 'fine.yaml');
  writeFileSync(
    broken,
    scenario('broken', 'server: { commit_delay_ms: [0, 3], test_double: { unsafe_locking: none } }'),
  );
  writeFileSync(fine, scenario('fine', ''));

  it('runs named files even when ci: false; a directory gives only its ci: true ones', async () => {
    const named = await runCli(['gate', fine, '--no-status']);
    expect(named.code).toBe(0);
    expect(named.stdout).toMatch(/gate: 1 scenarios, exit 0/);
    const asDir = await runCli(['gate', dir, '--no-status']);
    expect(asDir.code).toBe(2);
    expect(oneErrorLine(asDir.stderr)).toBe(`ledgerctl: no CI scenarios (ci: true) in ${dir}`);
  });

  it('--fail-fast stops after the first invariant failure; without it every scenario runs', async () => {
    const [fast, all] = await Promise.all([
      runCli(['gate', broken, fine, '--fail-fast', '--no-status']),
      runCli(['gate', broken, fine, '--no-status']),
    ]);
    expect(fast.code).toBe(1);
    expect(fast.stdout).toMatch(/gate: 1 scenarios, exit 1/);
    expect(fast.stderr).toContain(`gate: --fail-fast: not running ${fine}`);
    expect(all.code).toBe(1);
    expect(all.stdout).toMatch(/gate: 2 scenarios, exit 1/);
  });
});
