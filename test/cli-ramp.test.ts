import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { oneErrorLine, runCli } from './cli-run.js';

describe('ledgerctl load --stage (a rate ramp, end to end)', () => {
  it.each([
    ['one generator thread', []],
    ['two generator threads (each its own origin, binned by caller id)', ['--generator-threads', '2']],
  ])('offers exactly each stage integral and reports every stage per op: %s', async (_name, extra) => {
    const r = await runCli([
      'load',
      ...extra,
      '--op',
      'get',
      '--start-rate',
      '100',
      '--stage',
      '1s:300',
      '--stage',
      '1s:0',
      '--no-status',
      '--json',
      '-',
    ]);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    const group = result.groups[0];
    // 100 -> 300/s over 1 s: 200 sends; 300 -> 0/s over 1 s: 150.
    expect(group.stages.map((s: { offered: number }) => s.offered)).toEqual([200, 150]);
    for (const s of group.stages) {
      const all = s.ops.find((o: { op: string }) => o.op === '*');
      expect(all.count).toBe(s.offered - s.dropped);
      expect(all.p99Us).toBeGreaterThan(0);
    }
    expect(r.stderr).toContain('ramp load by stage');
    expect(r.stderr).toMatch(/│ 1\s+│ 0s-1s\s+│ 100 -> 300\/s/);
  });

  it('counts drops against the stage they were due in (one slot, slow commits)', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'ledgerctl-ramp-')), 'ramp.yaml');
    writeFileSync(
      file,
      `name: ramp-drops
server: { commit_delay_ms: [40, 40] }
accounts: [{ count: 4, prefix: a-, balance: 1000 }]
phases:
  - name: p
    groups:
      - name: g
        mix: { update: 1 }
        load: { model: open, max_in_flight: 1, stages: [{ duration: 1s, target: 0 }, { duration: 1s, target: 200 }] }
`,
    );
    const r = await runCli(['stress', file, '--no-status', '--json', '-']);
    expect(r.code).toBe(0);
    const group = JSON.parse(r.stdout).groups[0];
    const [idle, ramp] = group.stages;
    // Nothing due in the first stage; 100 due in the second, of which one slot at 40 ms takes ~25.
    expect(idle).toMatchObject({ offered: 0, dropped: 0 });
    expect(ramp.offered).toBe(100);
    expect(ramp.dropped).toBeGreaterThan(50);
    expect(ramp.dropped).toBe(group.dropped);
    expect(ramp.ops.find((o: { op: string }) => o.op === '*').count).toBe(ramp.offered - ramp.dropped);
  });

  it('refuses a ramp with a fixed rate or duration in one line, exit 2', async () => {
    const r = await runCli(['load', '--stage', '2s:100', '--rate', '5', '--no-status']);
    expect(r.code).toBe(2);
    expect(oneErrorLine(r.stderr)).toBe('ledgerctl: use --rate (one rate) or --stage (a ramp), not both');
  });
});
