import { LedgerEngine } from '../src/engine/ledger-engine.js';
import { MemoryStorage } from '../src/engine/storage.js';
import { LedgerMetrics } from '../src/server/ledger-metrics.js';
import { startLedgerServer } from '../src/server/ledger-server.js';
import { createLogger } from '../src/server/logger.js';

/**
 * One ledger server for the security bench, in its own process so its CPU is its own:
 * argv: <config json> = { certFile?, keyFile?, clientCaFile?, authTokensFile?, metrics?, guessingPolicy? }.
 * IPC: sends {type:'ready', target}; answers {type:'cpu'} with {type:'cpu', userUs, systemUs} and
 * {type:'auth'} with {type:'auth', failures, expelled, unchecked}.
 */
interface ChildConfig {
  certFile?: string;
  keyFile?: string;
  clientCaFile?: string;
  authTokensFile?: string;
  metrics?: boolean;
  /** Overrides of the guessing guard's budgets (guessing-bench switches it off with huge ones). */
  guessingPolicy?: { maxFailuresPerConnectionPerSecond?: number; maxFailuresPerSecond?: number };
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const metrics = config.metrics === true ? new LedgerMetrics() : undefined;
const engine = await LedgerEngine.open({ storage: new MemoryStorage(), commitObserver: metrics });
const server = await startLedgerServer({
  host: '127.0.0.1',
  port: 0,
  engine,
  logger: createLogger('silent'),
  tls:
    config.certFile === undefined || config.keyFile === undefined
      ? undefined
      : { certFile: config.certFile, keyFile: config.keyFile, clientCaFile: config.clientCaFile },
  authTokensFile: config.authTokensFile,
  observer: metrics,
  guessingPolicy: config.guessingPolicy,
});
metrics?.bind({ inFlightCalls: () => server.inFlightCalls, engineStats: () => engine.stats() });
await engine.createAccount({ accountId: 'bench', initialBalance: 1n });
process.on('message', (message: { type: string }) => {
  if (message.type === 'cpu') {
    const cpu = process.cpuUsage();
    process.send?.({ type: 'cpu', userUs: cpu.user, systemUs: cpu.system });
  } else if (message.type === 'scrape') {
    // A scrape costs too: the bench does one per round, as Prometheus would every 15 s.
    void (metrics?.text() ?? Promise.resolve('')).then((text) =>
      process.send?.({ type: 'scraped', bytes: text.length }),
    );
  } else if (message.type === 'auth') {
    process.send?.({ type: 'auth', ...server.authFailures });
  } else if (message.type === 'stop') {
    void server.shutdown().then(() => process.disconnect());
  }
});
process.send?.({ type: 'ready', target: server.target });
