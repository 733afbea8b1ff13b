import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLoopback } from '../src/cli/commands/serve.js';
import { tokenHash } from '../src/server/access-control.js';
import { CliProcess, cleanEnv, oneErrorLine, runCli } from './cli-run.js';
import { type Issued, TestPki } from './tls-fixture.js';

const pki = new TestPki();
let server: Issued;
let alice: Issued;
let accessFile: string;
const TOKEN = 'cli-token-0f3e9a';
const ADMIN_TOKEN = 'cli-admin-77d2c1';
const adminAccessFile = () => {
  const file = join(pki.dir, 'admin-access');
  writeFileSync(file, `token ${tokenHash(ADMIN_TOKEN)} harness admin\n`);
  return file;
};

beforeAll(() => {
  server = pki.issue('server-1', 'server');
  alice = pki.issue('alice', 'client');
  accessFile = join(pki.dir, 'access');
  writeFileSync(accessFile, `token ${tokenHash(TOKEN)} teller write\ncert alice read\n`);
});
afterAll(() => pki.remove());

/** The server's own certificate and key, as every TLS `serve` here starts with. */
const serverTls = () => ['--tls-cert', server.certFile, '--tls-key', server.keyFile];

const LISTENING =
  /^ledgerctl listening on 127\.0\.0\.1:(\d+) \(storage: memory, locking: account, tls: on\)$/;

async function startServe(extra: string[]): Promise<{ serve: CliProcess; target: string }> {
  const serve = new CliProcess(['serve', '--port', '0', '--in-memory', '--log-level', 'info', ...extra]);
  const port = LISTENING.exec(await serve.firstLine())?.[1];
  expect(port).toBeDefined();
  return { serve, target: `127.0.0.1:${port}` };
}

/** A TLS serve that wants client certificates from the test CA and knows ADMIN_TOKEN. */
const startMtlsAdminServe = () =>
  startServe([...serverTls(), '--tls-client-ca', pki.ca.certFile, '--auth-tokens', adminAccessFile()]);

/** Client flags: trust the test CA, present alice's certificate. */
const aliceMtls = () => [
  '--tls-ca',
  pki.ca.certFile,
  '--tls-cert',
  alice.certFile,
  '--tls-key',
  alice.keyFile,
];

async function stop(serve: CliProcess): Promise<void> {
  serve.child.kill('SIGTERM');
  expect((await serve.result).code).toBe(0);
}

function servedCn(target: string): Promise<string> {
  const port = Number(target.split(':')[1]);
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, ca: pki.ca.cert, servername: 'localhost', ALPNProtocols: ['h2'] },
      () => {
        resolve(String(socket.getPeerCertificate().subject.CN));
        socket.destroy();
      },
    );
    socket.on('error', reject);
  });
}

describe('ledgerctl serve over TLS with tokens', () => {
  it('client verbs connect with --tls-ca and --token-file (or LEDGER_TOKEN); query-log shows the principal', async () => {
    const { serve, target } = await startServe([...serverTls(), '--auth-tokens', accessFile]);
    try {
      const tokenFile = join(pki.dir, 'token');
      writeFileSync(tokenFile, `${TOKEN}\n`);
      const tls = ['--target', target, '--tls-ca', pki.ca.certFile];
      const created = await runCli([
        'create-account',
        'alice',
        '--initial',
        '10',
        '--txid',
        'c1',
        ...tls,
        '--token-file',
        tokenFile,
      ]);
      expect(created.stderr).toBe('');
      expect(created.code).toBe(0);
      const logged = await runCli(['query-log', 'c1', '--json', ...tls], cleanEnv({ LEDGER_TOKEN: TOKEN }));
      expect(JSON.parse(logged.stdout)).toMatchObject({ transaction_id: 'c1', principal: 'teller' });

      const noToken = await runCli(['balance', 'alice', ...tls]);
      expect(noToken.code).toBe(2);
      expect(oneErrorLine(noToken.stderr)).toMatch(
        /^ledgerctl: the ledger at .* wants credentials: Missing credentials/,
      );
      const plaintext = await runCli(
        ['balance', 'alice', '--target', target],
        cleanEnv({ LEDGER_TOKEN: TOKEN }),
      );
      expect(plaintext.code).toBe(2);
      expect(oneErrorLine(plaintext.stderr)).toMatch(/^ledgerctl: cannot reach the ledger at /);
      // The token never appears in the server's log.
      await stop(serve);
      expect((await serve.result).stderr).not.toContain(TOKEN);
    } finally {
      serve.child.kill('SIGKILL');
    }
  });

  it('mTLS: a listed certificate authenticates the read verbs; its role (read) may not write', async () => {
    const { serve, target } = await startServe([
      ...serverTls(),
      '--tls-client-ca',
      pki.ca.certFile,
      '--auth-tokens',
      accessFile,
    ]);
    try {
      const mtls = ['--target', target, ...aliceMtls()];
      const snapshot = await runCli(['snapshot', '--json', ...mtls]);
      expect(snapshot.code).toBe(0);
      const write = await runCli(['create-account', 'x', '--initial', '1', ...mtls]);
      expect(write.code).toBe(1);
      expect(oneErrorLine(write.stderr)).toBe(
        'ledgerctl: Principal alice (role read) may not call CreateAccount',
      );
      const noCert = await runCli(['snapshot', '--target', target, '--tls-ca', pki.ca.certFile]);
      expect(noCert.code).toBe(2);
    } finally {
      await stop(serve);
    }
  });

  it('stress --target runs the conformance kit and a load scenario over mTLS with a token', async () => {
    const { serve, target } = await startMtlsAdminServe();
    try {
      const security = aliceMtls();
      const env = cleanEnv({ LEDGER_TOKEN: ADMIN_TOKEN });
      for (const scenario of ['scenarios/conformance.yaml', 'scenarios/lost-update-unit.yaml']) {
        const run = await runCli(['stress', scenario, '--target', target, '--no-status', ...security], env);
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
      }
      const noToken = await runCli([
        'stress',
        'scenarios/lost-update-unit.yaml',
        '--target',
        target,
        '--no-status',
        ...security,
      ]);
      expect(noToken.code).not.toBe(0);
    } finally {
      await stop(serve);
    }
  });

  it('calibrate --target measures over mTLS with a token; without them it is one line and exit 2', async () => {
    const { serve, target } = await startMtlsAdminServe();
    try {
      const mtls = aliceMtls();
      const calibrate = ['calibrate', '--target', target, '--rate', '200', '--duration', '300ms', '--json'];
      const measured = await runCli([...calibrate, ...mtls], cleanEnv({ LEDGER_TOKEN: ADMIN_TOKEN }));
      expect(measured.stderr).toBe('');
      expect(measured.code).toBe(0);
      expect(JSON.parse(measured.stdout).calls).toBeGreaterThan(20);

      const plaintext = await runCli(calibrate, cleanEnv({}));
      expect(plaintext.code).toBe(2);
      expect(oneErrorLine(plaintext.stderr)).toMatch(
        /^ledgerctl: .*the server speaks TLS and this run does not/,
      );
      const noToken = await runCli([...calibrate, ...mtls], cleanEnv({}));
      expect(noToken.code).toBe(2);
      expect(oneErrorLine(noToken.stderr)).toMatch(
        /^ledgerctl: \d+ of \d+ calls to .* were refused \(.*\d+ UNAUTHENTICATED.*\): no floor measured/,
      );
      const noTarget = await runCli(['calibrate', ...mtls]);
      expect(noTarget.code).toBe(2);
      expect(oneErrorLine(noTarget.stderr)).toMatch(/apply to --target only/);
    } finally {
      await stop(serve);
    }
  });

  it('rereads certificate and key on SIGHUP; the listener stays', async () => {
    const certFile = join(pki.dir, 'hup.pem');
    const keyFile = join(pki.dir, 'hup.key');
    copyFileSync(server.certFile, certFile);
    copyFileSync(server.keyFile, keyFile);
    const { serve, target } = await startServe(['--tls-cert', certFile, '--tls-key', keyFile]);
    try {
      expect(await servedCn(target)).toBe('server-1');
      const next = pki.issue('server-hup', 'server');
      copyFileSync(next.certFile, certFile);
      copyFileSync(next.keyFile, keyFile);
      serve.child.kill('SIGHUP');
      await expect.poll(() => servedCn(target), { timeout: 5_000 }).toBe('server-hup');
      const read = await runCli(['snapshot', '--target', target, '--tls-ca', pki.ca.certFile]);
      expect(read.code).toBe(0);
    } finally {
      await stop(serve);
    }
  });
});

describe('SIGHUP and the access file', () => {
  it('rereads the access file on SIGHUP: a removed token stops working, an added one works', async () => {
    const file = join(pki.dir, 'hup-access');
    const [oldToken, newToken] = ['hup-old-token-1f2e', 'hup-new-token-3d4c'];
    writeFileSync(file, `token ${tokenHash(oldToken)} before read\n`);
    const { serve, target } = await startServe([...serverTls(), '--auth-tokens', file]);
    const snapshot = (token: string) =>
      runCli(
        ['snapshot', '--target', target, '--tls-ca', pki.ca.certFile],
        cleanEnv({ LEDGER_TOKEN: token }),
      );
    try {
      expect((await snapshot(oldToken)).code).toBe(0);
      expect((await snapshot(newToken)).code).toBe(2);
      writeFileSync(file, `token ${tokenHash(newToken)} after read\n`);
      serve.child.kill('SIGHUP');
      await expect.poll(async () => (await snapshot(newToken)).code, { timeout: 5_000 }).toBe(0);
      const refused = await snapshot(oldToken);
      expect(refused.code).toBe(2);
      expect(oneErrorLine(refused.stderr)).toMatch(/Unknown bearer token or client certificate/);
    } finally {
      await stop(serve);
    }
  });
});

describe('ledgerctl serve refuses unsafe or broken setups with one line and exit 2', () => {
  it.each([
    [['--host', '0.0.0.0'], /^ledgerctl: refusing plaintext on 0\.0\.0\.0, which is not a loopback address/],
    [['--tls-cert', 'a.pem'], /^ledgerctl: --tls-cert and --tls-key go together/],
    [
      ['--tls-cert', '/nonexistent/c.pem', '--tls-key', '/nonexistent/k.pem'],
      /^ledgerctl: cannot read certificate \/nonexistent\/c\.pem: ENOENT$/,
    ],
    [['--auth-tokens', '/nonexistent/tokens'], /^ledgerctl: cannot read \/nonexistent\/tokens: ENOENT$/],
  ])('serve %j', async (args, message) => {
    const result = await runCli(['serve', '--port', '0', '--in-memory', ...args]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('a key that does not match the certificate', async () => {
    const result = await runCli([
      'serve',
      '--port',
      '0',
      '--in-memory',
      '--tls-cert',
      server.certFile,
      '--tls-key',
      alice.keyFile,
    ]);
    expect(result.code).toBe(2);
    expect(oneErrorLine(result.stderr)).toMatch(/^ledgerctl: unusable TLS files .*: .*key values mismatch/);
  });

  it('client verbs refuse a token a header cannot carry, and an unreadable CA, before connecting', async () => {
    const tokenFile = join(pki.dir, 'bad-token');
    writeFileSync(tokenFile, 'two words\n');
    const bad = await runCli(['balance', 'a', '--token-file', tokenFile]);
    expect(bad.code).toBe(2);
    expect(oneErrorLine(bad.stderr)).toBe(
      `ledgerctl: --token-file ${tokenFile}: a bearer token is 1-4096 visible ASCII characters`,
    );
    const noCa = await runCli(['balance', 'a', '--tls-ca', '/nonexistent/ca.pem']);
    expect(noCa.code).toBe(2);
    expect(oneErrorLine(noCa.stderr)).toBe('ledgerctl: cannot read --tls-ca /nonexistent/ca.pem: ENOENT');
  });

  it('loopback is 127.0.0.0/8, ::1 and localhost; nothing else', () => {
    // (Not started for real: a test binds nothing but loopback.)
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost'])
      expect(isLoopback(host)).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.org', '128.0.0.1', '::ffff:127.0.0.1x'])
      expect(isLoopback(host)).toBe(false);
  });
});
