import { describe, expect, it } from 'vitest';
import { serverFailuresOf } from '../src/harness/run-checks.js';
import type { ServerSource } from '../src/harness/server-source.js';
import { exitLine } from '../src/harness/spawned-server.js';

type Servers = Pick<ServerSource, 'spawned' | 'instances'>;
const server = (exits: string[][]): Servers => {
  const instances = exits.map((unexpectedExits) => ({ unexpectedExits }));
  return { spawned: instances[0], instances } as unknown as Servers;
};

/** The tail of a `serve` that died on an uncaught exception (the PostgreSQL-restart test, fifth pass). */
const CRASH = [
  '{"level":40,"time":"2026-12-01T01:23:34.494Z","service":"ledgerctl","serving":true,"msg":"ledger storage is back"}',
  'file:///work/node_modules/postgres/src/connection.js:255',
  '    const x = socket.write(chunk, fn)',
  '                     ^',
  '',
  "TypeError: Cannot read properties of null (reading 'write')",
  '    at Immediate.nextWrite (file:///work/node_modules/postgres/src/connection.js:255:22)',
  '    at process.processImmediate (node:internal/timers:483:21)',
  '',
  'Node.js v20.20.2',
  '',
].join('\n');

describe('what a run reports of its servers', () => {
  it('reports an unasked exit of any instance, not only the first', () => {
    const failures = serverFailuresOf(
      server([[], ['server 127.0.0.1:2 exited on its own (code 1, signal null): X']]),
      {
        restartFailures: ['kill #2: the server did not come back'],
      },
    );
    expect(failures).toEqual([
      'kill #2: the server did not come back',
      'server 127.0.0.1:2 exited on its own (code 1, signal null): X',
    ]);
    // Without faults the durability verdict is not told about servers at all (as before).
    expect(serverFailuresOf(server([['gone']]), undefined)).toBeUndefined();
  });

  it('names the error a server died of, not the Node.js version printed after it', () => {
    expect(exitLine(CRASH)).toBe("TypeError: Cannot read properties of null (reading 'write')");
    expect(exitLine('ledgerctl: cannot reach the database at 127.0.0.1:5432/x: connection refused\n')).toBe(
      'ledgerctl: cannot reach the database at 127.0.0.1:5432/x: connection refused',
    );
  });
});
