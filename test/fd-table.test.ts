import { readdirSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../src/domain/limits.js';
import { fdTableSlots, reserveFdTable } from '../src/server/fd-table.js';
import { type CliProcess, startServeInMemory } from './cli-run.js';

const sockets: Socket[] = [];
let serve: CliProcess | undefined;
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  if (serve !== undefined) {
    serve.child.kill('SIGTERM');
    await serve.result;
    serve = undefined;
  }
});

async function until(condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('descriptor table reserved at start (Linux grows it only after an RCU grace period, asleep in accept)', () => {
  it('reserveFdTable grows this process table to the slots asked for, and closes what it opened', () => {
    const before = fdTableSlots('self')!;
    const openBefore = readdirSync('/proc/self/fd').length;
    const slots = before * 4;
    const reserved = reserveFdTable(slots)!;
    expect(reserved).toMatchObject({ slotsBefore: before });
    expect(reserved.stoppedBy).toBeUndefined();
    expect(reserved.slotsAfter).toBeGreaterThanOrEqual(slots);
    expect(fdTableSlots('self')).toBe(reserved.slotsAfter);
    expect(readdirSync('/proc/self/fd').length).toBe(openBefore);
    // Tables never shrink: asking again for no more is free.
    expect(reserveFdTable(slots)).toMatchObject({
      slotsBefore: reserved.slotsAfter,
      slotsAfter: reserved.slotsAfter,
    });
  });

  it('serve holds max-connections connections without growing its table after start', async () => {
    const maxConnections = 400;
    const started = await startServeInMemory(['--max-connections', String(maxConnections)]);
    serve = started.serve;
    const port = started.port;
    const pid = serve.child.pid!;
    const atStart = fdTableSlots(pid)!;
    expect(atStart).toBeGreaterThanOrEqual(maxConnections + LIMITS.fdTableHeadroomSlots);
    const openAtStart = readdirSync(`/proc/${pid}/fd`).length;

    for (let i = 0; i < maxConnections; i++) {
      const s = connectTcp({ host: '127.0.0.1', port });
      s.on('error', () => {});
      sockets.push(s);
    }
    // Accepted: the server holds a descriptor for each (silent connections get no session, only a socket).
    await until(() => readdirSync(`/proc/${pid}/fd`).length >= openAtStart + maxConnections);
    expect(fdTableSlots(pid)).toBe(atStart);
  });
});
