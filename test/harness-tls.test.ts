import { afterAll, describe, expect, it } from 'vitest';
import type { ClientSecurity } from '../src/client/client-security.js';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { parseScenario } from '../src/harness/load-scenario.js';
import { RunSetupError, runScenario } from '../src/harness/run-scenario.js';
import { acquireServer, type ServerSource } from '../src/harness/server-source.js';
import { TestPki } from './tls-fixture.js';

// The harness spawns bin/ledgerctl.js, which loads dist/ (`npm test` builds first).
const scenario = (server: string, client = 'lean') =>
  parseScenario(
    `name: tls-e2e
seed: 3
server: ${server}
generator: { client: ${client} }
accounts:
  - { count: 4, prefix: t-, balance: 1000 }
phases:
  - name: load
    groups:
      - name: mixed
        mix: { update: 3, transfer: 3, get: 2, snapshot: 1 }
        delta: { min: -20, max: 20 }
        load: { model: closed, callers: 4 }
        duration: 1500ms
expect:
  allowed_errors: [FAILED_PRECONDITION]
`,
    'tls-e2e.yaml',
  );

describe('a scenario whose spawned server speaks TLS (server: { tls })', () => {
  it('runs end to end over TLS with the lean caller, and over mTLS with grpc-js', async () => {
    for (const [server, client] of [
      ['{ mode: spawned, in_memory: true, tls: true }', 'lean'],
      ['{ mode: spawned, in_memory: true, tls: mutual }', 'grpc-js'],
    ] as const) {
      const result = await runScenario(scenario(server, client), { file: 'tls-e2e.yaml' });
      expect(result.target).toMatch(server.includes('mutual') ? /, mTLS\)$/ : /, TLS\)$/);
      expect(result.verdicts.filter((v) => !v.passed)).toEqual([]);
      const calls = result.ops.reduce((n, op) => n + op.count, 0);
      expect(calls).toBeGreaterThan(50);
      expect(result.verdict).toBe('pass');
    }
  });

  describe('clients without the run CA', () => {
    let source: ServerSource;
    const stranger = new TestPki('some-other-ca');
    afterAll(async () => {
      await source?.release(false);
      stranger.remove();
    });

    it('are refused at the handshake with a clear error; the run CA gets through', async () => {
      source = await acquireServer(scenario('{ mode: spawned, in_memory: true, tls: mutual }'), undefined);
      const target = source.targets[0]!;
      const tls = source.security!.tls!;
      expect(tls.caPem?.toString()).toContain('BEGIN CERTIFICATE');

      const ok = new LedgerClient(target, { deadlineMs: 5_000, security: source.security });
      await ok.createAccount('tls-ok', 5n);
      expect((await ok.getBalance('tls-ok')).value.balance).toBe(5n);
      ok.close();

      // Trusting another CA: the server's certificate does not verify.
      const wrongCa = new LedgerClient(target, {
        deadlineMs: 5_000,
        security: { tls: { caPem: stranger.ca.cert, certPem: tls.certPem, keyPem: tls.keyPem } },
      });
      const err = await wrongCa.getBalance('tls-ok').catch((e: unknown) => e);
      wrongCa.close();
      expect(err).toBeInstanceOf(LedgerCallError);
      expect((err as LedgerCallError).codeName).toBe('UNAVAILABLE');
      expect((err as LedgerCallError).details).toMatch(/certificate/i);

      // The run's callers (lean and grpc-js) only see "failed to connect": the run names the TLS cause.
      const attempts: [string, ClientSecurity | undefined, RegExp][] = [
        ['without TLS', undefined, /the server speaks TLS and this run does not: give --tls-ca/],
        [
          'trusting another CA',
          { tls: { caPem: stranger.ca.cert, certPem: tls.certPem, keyPem: tls.keyPem } },
          /TLS: the server's certificate does not verify .*: self-signed certificate in certificate chain$/,
        ],
        [
          'without a client certificate',
          { tls: { caPem: tls.caPem } },
          /TLS: the server wants a client certificate \(--tls-cert, --tls-key\): tlsv13 alert certificate required$/,
        ],
      ];
      for (const [what, security, message] of attempts) {
        // grpc-js retries until the connect timeout (5 s): one case of it, the lean caller for all.
        for (const client of what === 'without TLS' ? ['lean', 'grpc-js'] : ['lean']) {
          const run = runScenario(scenario('{ mode: in-process }', client), {
            file: 'tls-e2e.yaml',
            targets: [target],
            security,
          }).catch((e: unknown) => e);
          const err = await run;
          expect(err, `${client} ${what}`).toBeInstanceOf(RunSetupError);
          expect((err as Error).message, `${client} ${what}`).toMatch(message);
        }
      }
    }, 120_000);
  });

  it('is refused for an in-process server', () => {
    expect(() => scenario('{ mode: in-process, tls: true }')).toThrow(/"tls" needs server mode spawned/);
  });
});
