import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ClientSecurity } from '../src/client/client-security.js';
import { HealthClient } from '../src/client/health-client.js';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { AccessFileError, parseAccessTable, tokenHash } from '../src/server/access-control.js';
import { PINO_ERROR, startTestServer, type TestServer } from './server-fixture.js';
import { type Issued, TestPki } from './tls-fixture.js';

async function callError(work: Promise<unknown>): Promise<LedgerCallError> {
  try {
    await work;
  } catch (err) {
    if (err instanceof LedgerCallError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

/** The subject CN of the certificate a fresh TLS handshake with the server presents. */
function servedCertificateCn(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port, ca, servername: 'localhost', ALPNProtocols: ['h2'] },
      () => {
        const cn = socket.getPeerCertificate().subject.CN;
        socket.destroy();
        resolve(String(cn));
      },
    );
    socket.on('error', reject);
  });
}

const pki = new TestPki();
const otherPki = new TestPki('other-ca');
let serverCert: Issued;
let alice: Issued;
let stranger: Issued;
const open: { close(): void }[] = [];
let t: TestServer | undefined;

beforeAll(() => {
  serverCert = pki.issue('server-1', 'server');
  alice = pki.issue('alice', 'client');
  stranger = otherPki.issue('mallory', 'client');
});
afterAll(() => {
  pki.remove();
  otherPki.remove();
});
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await t?.stop();
  t = undefined;
});

function client(security: ClientSecurity | undefined): LedgerClient {
  const c = new LedgerClient(t!.server.target, {
    deadlineMs: 5_000,
    security,
    channelKey: String(Math.random()),
  });
  open.push(c);
  return c;
}

const tlsWith = (extra: { ca?: Buffer; cert?: Issued } = {}): ClientSecurity => ({
  tls: { caPem: extra.ca ?? pki.ca.cert, certPem: extra.cert?.cert, keyPem: extra.cert?.key },
});

describe('TLS', () => {
  it('serves a client that trusts the CA, and refuses plaintext and an untrusting client', async () => {
    t = await startTestServer({
      tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile },
      clientSecurity: tlsWith(),
    });
    expect(t.server.tls).toBe(true);
    await t.client.createAccount('a', 10n);
    expect((await t.client.getBalance('a')).value.balance).toBe(10n);
    // Without client certificates required, there is no identity: the principal stays empty.
    await t.client.updateBalance('a', 1n, 'u1');
    expect((await t.client.getTransaction('u1')).value.principal).toBe('');

    expect((await callError(client(undefined).getBalance('a'))).code).toBe(grpc.status.UNAVAILABLE);
    const wrongCa = await callError(client(tlsWith({ ca: otherPki.ca.cert })).getBalance('a'));
    expect(wrongCa.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('mTLS: the certificate subject is the principal; no certificate or another CA is refused at the handshake', async () => {
    t = await startTestServer({
      tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, clientCaFile: pki.ca.certFile },
      clientSecurity: tlsWith({ cert: alice }),
    });
    await t.client.createAccount('a', 10n, 'create-a');
    expect((await t.client.getTransaction('create-a')).value.principal).toBe('alice');

    const noCert = await callError(client(tlsWith()).getBalance('a'));
    expect(noCert.code).toBe(grpc.status.UNAVAILABLE);
    const foreign = await callError(client(tlsWith({ cert: stranger })).getBalance('a'));
    expect(foreign.code).toBe(grpc.status.UNAVAILABLE);
    // Refused before any call was read: nothing reached the ledger.
    expect((await t.server.engine.getSnapshot(false)).logPosition).toBe(1);
  });

  it('mTLS: each connection keeps its own certificate principal, call after call (decoded once per connection)', async () => {
    const bob = pki.issue('bob', 'client');
    t = await startTestServer({
      tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, clientCaFile: pki.ca.certFile },
      clientSecurity: tlsWith({ cert: alice }),
    });
    await t.client.createAccount('a', 0n);
    const asBob = client(tlsWith({ cert: bob }));
    const writes = Array.from({ length: 40 }, (_, i) =>
      (i % 2 === 0 ? t!.client : asBob).updateBalance('a', 1n, `w-${i}`),
    );
    await Promise.all(writes);
    for (let i = 0; i < 40; i++)
      expect((await t.client.getTransaction(`w-${i}`)).value.principal).toBe(i % 2 === 0 ? 'alice' : 'bob');
  });

  it('reloads certificate and key on request without dropping the listener or open connections', async () => {
    const certFile = join(pki.dir, 'live.pem');
    const keyFile = join(pki.dir, 'live.key');
    copyFileSync(serverCert.certFile, certFile);
    copyFileSync(serverCert.keyFile, keyFile);
    t = await startTestServer({ tls: { certFile, keyFile }, clientSecurity: tlsWith() });
    await t.client.createAccount('a', 10n);
    expect(await servedCertificateCn(t.server.port, pki.ca.cert)).toBe('server-1');

    const next = pki.issue('server-2', 'server');
    copyFileSync(next.certFile, certFile);
    copyFileSync(next.keyFile, keyFile);
    t.server.reloadCredentials();
    expect(await servedCertificateCn(t.server.port, pki.ca.cert)).toBe('server-2');
    // The connection made before the reload still serves calls.
    expect((await t.client.getBalance('a')).value.balance).toBe(10n);
    expect((await client(tlsWith()).getBalance('a')).value.balance).toBe(10n);

    // Unusable files: logged, and the previous certificate stays in force.
    writeFileSync(keyFile, 'not a key');
    t.server.reloadCredentials();
    expect(t.logs.some((l) => l.level === PINO_ERROR && l.msg.startsWith('TLS reload failed'))).toBe(true);
    expect(await servedCertificateCn(t.server.port, pki.ca.cert)).toBe('server-2');
    expect((await client(tlsWith()).getBalance('a')).value.balance).toBe(10n);
  });
});

describe('bearer tokens and roles', () => {
  const tokens = { writer: 'tok-writer-6f1c', reader: 'tok-reader-99ab', admin: 'tok-admin-1234' };
  const accessFile = () => {
    const file = join(pki.dir, 'access');
    writeFileSync(
      file,
      [
        '# principals of the test ledger',
        `token ${tokenHash(tokens.writer)} alice write`,
        `token ${tokenHash(tokens.reader)} rita read`,
        `token ${tokenHash(tokens.admin)} root admin  # operators`,
        'cert alice write',
      ].join('\n'),
    );
    return file;
  };
  const as = (token: string, extra: ClientSecurity = {}) => client({ ...extra, token });

  it('refuses calls without or with an unknown token, and records the principal of every write', async () => {
    t = await startTestServer({ authTokensFile: accessFile(), clientSecurity: { token: tokens.writer } });
    await t.client.createAccount('a', 100n, 'c-a');
    await t.client.transferFunds('a', 'a2', 1n, 'x').catch(() => {});
    expect((await t.client.getTransaction('c-a')).value.principal).toBe('alice');

    const none = await callError(client(undefined).getBalance('a'));
    expect([none.code, none.details]).toEqual([
      grpc.status.UNAUTHENTICATED,
      'Missing credentials: send authorization: Bearer <token> or a client certificate this server accepts',
    ]);
    for (const [i, bad] of ['nope', `${tokens.writer}x`, tokens.writer.slice(0, -1)].entries()) {
      const unknown = await callError(as(bad).updateBalance('a', 5n, `u-${i}`));
      expect([unknown.code, unknown.details]).toEqual([
        grpc.status.UNAUTHENTICATED,
        'Unknown bearer token or client certificate',
      ]);
    }
    // Refused writes changed nothing.
    expect((await t.server.engine.getBalance('a')).balance).toBe(100n);
    // The token itself is never logged, not even the refused ones.
    const logText = JSON.stringify(t.logs);
    for (const secret of [...Object.values(tokens), 'nope', tokens.writer.slice(0, -1)])
      expect(logText).not.toContain(secret);
  });

  it('read may read, write may write, only admin may dump every balance', async () => {
    t = await startTestServer({ authTokensFile: accessFile(), clientSecurity: { token: tokens.admin } });
    await t.client.createAccount('a', 100n);
    const reader = as(tokens.reader);
    expect((await reader.getBalance('a')).value.balance).toBe(100n);
    expect((await reader.getSnapshot(false)).value.totalBalance).toBe(100n);
    const denied = await callError(reader.updateBalance('a', 1n, 'r1'));
    expect([denied.code, denied.details]).toEqual([
      grpc.status.PERMISSION_DENIED,
      'Principal rita (role read) may not call UpdateBalance',
    ]);
    const writer = as(tokens.writer);
    await writer.transferFunds('a', 'a', 1n, 't0').catch(() => {});
    await writer.createAccount('b', 0n);
    await writer.transferFunds('a', 'b', 5n, 't1');
    const dump = await callError(writer.getSnapshot(true));
    expect([dump.code, dump.details]).toEqual([
      grpc.status.PERMISSION_DENIED,
      'Principal alice (role write) may not call GetSnapshot with include_accounts',
    ]);
    expect((await t.client.getSnapshot(true)).value.accounts.map((x) => x.accountId)).toEqual(['a', 'b']);
    expect((await t.server.engine.getBalance('a')).balance).toBe(95n);

    // A batch is a write: read may not send one; a writer's batch entries carry its principal.
    const batch = [{ kind: 'update' as const, accountId: 'b', delta: 1n, transactionId: 'batch-1' }];
    const batchDenied = await callError(reader.executeBatch(batch));
    expect([batchDenied.code, batchDenied.details]).toEqual([
      grpc.status.PERMISSION_DENIED,
      'Principal rita (role read) may not call ExecuteBatch',
    ]);
    expect((await writer.executeBatch(batch)).value[0]).toMatchObject({ ok: true });
    expect((await t.client.getTransaction('batch-1')).value.principal).toBe('alice');
  });

  it('a balance reaches an error message only for a caller who may read it', async () => {
    t = await startTestServer({ authTokensFile: accessFile(), clientSecurity: { token: tokens.writer } });
    await t.client.createAccount('rich', 40n);
    await t.client.createAccount('poor', 0n);
    const overdraw = (c: LedgerClient) =>
      callError(c.transferFunds('rich', 'poor', 50n, `o-${Math.random()}`));
    // The writer (who may read balances anyway) hears the balance...
    expect((await overdraw(t.client)).details).toBe(
      'Insufficient balance in account rich: current=40, required=50',
    );
    // ...nobody else does: refused before the ledger is consulted.
    const refusals = [
      await overdraw(client(undefined)),
      await overdraw(as('not-a-token')),
      await overdraw(as(tokens.reader)),
    ];
    expect(refusals.map((e) => e.code)).toEqual([
      grpc.status.UNAUTHENTICATED,
      grpc.status.UNAUTHENTICATED,
      grpc.status.PERMISSION_DENIED,
    ]);
    for (const e of refusals) expect(e.details).not.toMatch(/40|current|balance/i);
  });

  it('health stays open without credentials', async () => {
    t = await startTestServer({ authTokensFile: accessFile() });
    const health = new HealthClient(t.server.target);
    open.push(health);
    expect(await health.check('')).toBe('SERVING');
  });

  it('with mTLS, a listed certificate subject authenticates without a token; an unlisted one is refused', async () => {
    const bob = pki.issue('bob', 'client');
    t = await startTestServer({
      tls: { certFile: serverCert.certFile, keyFile: serverCert.keyFile, clientCaFile: pki.ca.certFile },
      authTokensFile: accessFile(),
      clientSecurity: tlsWith({ cert: alice }),
    });
    await t.client.createAccount('a', 1n, 'by-cert');
    expect((await t.client.getTransaction('by-cert')).value.principal).toBe('alice');
    const unlisted = await callError(client(tlsWith({ cert: bob })).getBalance('a'));
    expect(unlisted.code).toBe(grpc.status.UNAUTHENTICATED);
    // A token wins over the certificate: bob's connection acts as root.
    await client({ ...tlsWith({ cert: bob }), token: tokens.admin }).createAccount('b', 0n, 'by-token');
    expect((await t.client.getTransaction('by-token')).value.principal).toBe('root');
  });

  it('reloads the access file on request: a removed token stops working', async () => {
    const file = accessFile();
    t = await startTestServer({ authTokensFile: file, clientSecurity: { token: tokens.admin } });
    await as(tokens.reader).getSnapshot(false);
    writeFileSync(file, `token ${tokenHash(tokens.admin)} root admin\n`);
    t.server.reloadCredentials();
    expect((await callError(as(tokens.reader).getSnapshot(false))).code).toBe(grpc.status.UNAUTHENTICATED);
    await t.client.getSnapshot(false);
  });
});

describe('access file', () => {
  const refused = (text: string) => {
    try {
      parseAccessTable(text, 'tokens.txt');
    } catch (err) {
      if (err instanceof AccessFileError) return err.message;
      throw err;
    }
    throw new Error('expected the file to be refused');
  };
  const hash = tokenHash('x');

  it('names the line and what is wrong', () => {
    expect(refused(`token ${hash} alice write\ntoken abc bob read`)).toBe(
      'tokens.txt:2: expected sha256:<64 hex digits>',
    );
    expect(refused(`token ${hash} alice owner`)).toBe('tokens.txt:1: role must be one of read, write, admin');
    expect(
      refused(`token ${hash} alice write\ntoken ${hash.toUpperCase().replace('SHA256', 'sha256')} b read`),
    ).toBe('tokens.txt:2: the same token hash is listed twice');
    expect(refused('user alice write')).toMatch(/^tokens.txt:1: expected "token/);
    expect(refused(`token ${hash} al\u001bice write`)).toMatch(/^tokens.txt:1: a principal is/);
    expect(refused('# nothing\n\n')).toBe(
      'tokens.txt: lists no token and no certificate: nobody could call the ledger',
    );
  });

  it('hashes tokens as sha256sum does', () => {
    // printf %s test | sha256sum
    expect(tokenHash('test')).toBe('sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08');
  });
});
