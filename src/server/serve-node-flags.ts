import { LIMITS } from '../domain/limits.js';

/**
 * The node flags a server process runs with (`node ${SERVE_NODE_FLAGS} bin/ledgerctl.js serve`;
 * the harness and the benchmarks start servers this way): a young generation sized for the
 * server's per-call garbage (LIMITS.serveSemiSpaceMb). V8 reads them only at process start.
 */
export const SERVE_NODE_FLAGS: readonly string[] = [
  `--min-semi-space-size=${LIMITS.serveSemiSpaceMb}`,
  `--max-semi-space-size=${LIMITS.serveSemiSpaceMb}`,
];
