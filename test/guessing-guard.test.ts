import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { ClientSecurity } from '../src/client/client-security.js';
import { LedgerCallError, LedgerClient } from '../src/client/ledger-client.js';
import { LIMITS } from '../src/domain/limits.js';
import { tokenHash } from '../src/server/access-control.js';
import type { GuessingPolicy } from '../src/server/guessing-guard.js';
import { startTestServer, type TestServer } from './server-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'ledger-guessing-'));
const GOOD = 'good-token-0b7e41d2';
const accessFile = join(dir, 'access');
writeFileSync(accessFile, `token ${tokenHash(GOOD)} teller write\n`);

const UNKNOWN = 'UNAUTHENTICATED Unknown bearer token or client certificate';
const CUT = 'RESOURCE_EXHAUSTED Too many failed authentications on this connection; it is being closed';

const open: { close(): void }[] = [];
let t: TestServer | undefined;
afterEach(async () => {
  for (const c of open.splice(0)) c.close();
  await t?.stop();
  t = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A client on a connection of its own. */
function client(security: ClientSecurity): LedgerClient {
  const c = new LedgerClient(t!.server.target, {
    deadlineMs: 10_000,
    security,
    channelKey: String(Math.random()),
  });
  open.push(c);
  return c;
}

async function start(policy?: Partial<GuessingPolicy>): Promise<TestServer> {
  t = await startTestServer({
    authTokensFile: accessFile,
    clientSecurity: { token: GOOD },
    server: { guessingPolicy: policy },
  });
  await t.client.createAccount('a', 100n);
  return t;
}

/** `code details` of a failed call, or 'OK'. */
async function outcome(work: Promise<unknown>): Promise<string> {
  try {
    await work;
    return 'OK';
  } catch (err) {
    if (err instanceof LedgerCallError) return `${err.codeName} ${err.details}`;
    throw err;
  }
}

/** A well-behaved caller reading in a loop on its own connection until stopped; resolves to its reads. */
function goodCaller(c: LedgerClient): { stop(): Promise<number> } {
  let running = true;
  const loop = (async () => {
    let reads = 0;
    while (running) {
      expect((await c.getBalance('a')).value.balance).toBe(100n);
      reads++;
    }
    return reads;
  })();
  return {
    stop: () => {
      running = false;
      return loop;
    },
  };
}

const tally = (outcomes: string[]) => {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
};

describe('policing of token guessing', () => {
  it('closes a connection that keeps failing authentication; a good token on another connection is served throughout', async () => {
    const { server } = await start();
    const good = goodCaller(client({ token: GOOD }));
    const guesser = client({ token: 'guess' });
    // As many guesses at once as one connection carries (more would queue for the next
    // connection), then 60 one after another (it reconnects each time it is closed).
    const burst = await Promise.all(
      Array.from({ length: LIMITS.defaultMaxStreamsPerConnection }, () => outcome(guesser.getBalance('a'))),
    );
    const sequential: string[] = [];
    for (let i = 0; i < 60; i++) sequential.push(await outcome(guesser.getBalance('a')));
    const reads = await good.stop();

    const perConnection = 10 + 1; // the budget, and the failure that goes past it
    const { failures, expelled, unchecked } = server.authFailures;
    expect(expelled).toBeGreaterThanOrEqual(2);
    // Each connection got at most its budget of credential checks; the rest of the burst none.
    expect(failures).toBeLessThanOrEqual(perConnection * (expelled + 1));
    expect(tally(burst).get(UNKNOWN)).toBeLessThanOrEqual(perConnection);
    expect(unchecked).toBeGreaterThan(0);
    expect(tally([...burst, ...sequential]).get(CUT)).toBeGreaterThan(0);
    // The sequential guesser pays a new connection for every 11 guesses at most.
    expect(tally(sequential).get(UNKNOWN) ?? 0).toBeLessThanOrEqual(perConnection * (expelled + 1));
    expect(expelled).toBeGreaterThanOrEqual(
      Math.floor((tally(sequential).get(UNKNOWN) ?? 0) / perConnection),
    );
    // Every refusal is one of the documented ones, or the connection going away under a call
    // (grpc-js words a stream reset with ENHANCE_YOUR_CALM as RESOURCE_EXHAUSTED "Bandwidth exhausted").
    const goingAway = /^(UNAVAILABLE|CANCELLED|RESOURCE_EXHAUSTED Bandwidth exhausted)/;
    for (const o of new Set([...burst, ...sequential]))
      expect([UNKNOWN, CUT].includes(o) || goingAway.test(o), o).toBe(true);
    expect(reads).toBeGreaterThan(0);
    // A new connection with the good token is served at once.
    expect((await client({ token: GOOD }).getBalance('a')).value.balance).toBe(100n);
    // Nothing changed, nothing leaked into the log.
    expect((await server.engine.getBalance('a')).balance).toBe(100n);
    const logText = JSON.stringify(t!.logs);
    expect(logText).not.toContain('guess"');
    expect(logText).not.toContain(GOOD);
  });

  it('bounds guessing spread over many connections: past the global budget a connection goes at its first failure', async () => {
    // A per-connection budget nobody reaches here: only the global bound can close connections.
    const { server } = await start({ maxFailuresPerConnectionPerSecond: 1_000_000, maxFailuresPerSecond: 5 });
    const good = goodCaller(client({ token: GOOD }));
    const guessers = Array.from({ length: 30 }, (_, i) => client({ token: `guess-${i}` }));
    for (let round = 0; round < 3; round++)
      await Promise.all(guessers.map((g) => outcome(g.getBalance('a'))));
    const reads = await good.stop();

    const { failures, expelled } = server.authFailures;
    expect(failures).toBeGreaterThan(5);
    // Within one second every failure past the 5th closed its connection; the test may straddle
    // a second or two on a loaded machine, each of which lets 5 more through.
    expect(expelled).toBeGreaterThanOrEqual(failures - 5 * 3);
    // They are really closed: of 31 connections, the guessers' closed ones are gone.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(server.connections.open).toBeLessThanOrEqual(31 - 10);
    expect(reads).toBeGreaterThan(0);
    // A caller connecting while the budget is spent still gets its credentials checked.
    expect((await client({ token: GOOD }).getBalance('a')).value.balance).toBe(100n);
  });

  it('logs failed authentications once a second with counts, not once per attempt', async () => {
    const { server } = await start();
    const guesser = client({ token: 'guess-logged' });
    for (let i = 0; i < 100; i++) await outcome(guesser.getBalance('a'));
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const lines = t!.logs.filter((l) => l.msg === 'failed authentications');
    const started = Date.parse(lines[0]!.time);
    const seconds = (Date.parse(lines.at(-1)!.time) - started) / 1000;
    expect(lines.length).toBeLessThanOrEqual(Math.ceil(seconds) + 2);
    // Together the lines account for every failure, and no per-call error line was written.
    expect(lines.reduce((sum, l) => sum + (l.failures as number), 0)).toBe(server.authFailures.failures);
    expect(t!.logs.some((l) => l.msg === 'Unknown bearer token or client certificate')).toBe(false);
    expect(JSON.stringify(t!.logs)).not.toContain('guess-logged');
  });

  it('a client with a stale token hears UNAUTHENTICATED and keeps its connection below the budget', async () => {
    const { server } = await start();
    const stale = client({ token: 'revoked-token' });
    expect(await outcome(stale.getBalance('a'))).toBe(UNKNOWN);
    for (let i = 0; i < 9; i++) expect(await outcome(stale.getBalance('a'))).toBe(UNKNOWN);
    expect(server.authFailures).toEqual({ failures: 10, expelled: 0, unchecked: 0 });
  });
});
