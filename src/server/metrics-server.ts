import { once } from 'node:events';
import { createServer } from 'node:http';
import { LIMITS } from '../domain/limits.js';
import type { LedgerMetrics } from './ledger-metrics.js';
import type { Logger } from './logger.js';

export interface MetricsServer {
  /** host:port actually bound (port 0 picks one). */
  readonly target: string;
  close(): Promise<void>;
}

/** The metrics address could not be bound: the operator's to fix. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
}

/**
 * Plain HTTP, GET /metrics only. No authentication: it carries counts and latencies, never an
 * account id, an amount or a principal (see docs/security.md); bind it where only the scraper
 * can reach it.
 */
export async function startMetricsServer(
  metrics: LedgerMetrics,
  host: string,
  port: number,
  logger: Logger,
): Promise<MetricsServer> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
      return;
    }
    metrics.text().then(
      (body) => res.writeHead(200, { 'content-type': metrics.contentType }).end(body),
      (err: unknown) => {
        logger.error({ err }, 'metrics scrape failed');
        res
          .writeHead(500, { 'content-type': 'text/plain' })
          .end('metrics failed; the server log has the details\n');
      },
    );
  });
  // A scraper keeps its connection; a slow or stuck one must not hold memory for long.
  server.headersTimeout = LIMITS.metricsRequestTimeoutMs;
  server.requestTimeout = LIMITS.metricsRequestTimeoutMs;
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new MetricsListenError(
      `cannot serve metrics on ${host}:${port}: ${code === 'EADDRINUSE' ? 'address already in use' : (code ?? String(err))}`,
    );
  }
  const address = server.address();
  const bound = typeof address === 'object' && address !== null ? address.port : port;
  const target = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`;
  logger.info({ target }, 'metrics listening');
  return {
    target,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
