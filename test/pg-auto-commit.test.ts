import { describe, expect, it } from 'vitest';
import { AutoCommit } from '../src/engine/postgres/pg-auto-commit.js';

const options = { windowGroups: 5, slowFlushUs: 1_000, fastFlushUs: 500 };
const window = (auto: AutoCommit, ...us: number[]) => {
  for (const u of us) auto.measured(u);
};

describe('AutoCommit (what --db-commit auto commits each group with)', () => {
  it('starts synchronous and judges once per full window, by its median', () => {
    const auto = new AutoCommit(options);
    expect(auto.async).toBe(false);
    window(auto, 5_000, 5_000, 5_000, 5_000);
    expect(auto.async).toBe(false);
    auto.measured(5_000);
    expect(auto.async).toBe(true);
    expect(auto.lastMedianUs).toBe(5_000);
    // Two slow outliers of five (a GC pause, a busy core) are not a slow disk.
    window(auto, 100, 20_000, 100, 30_000, 100);
    expect(auto.lastMedianUs).toBe(100);
    expect(auto.async).toBe(false);
    window(auto, 200, 200, 9_000, 9_000, 9_000);
    expect(auto.async).toBe(true);
    expect(auto.switches).toBe(3);
  });

  it('keeps its choice while the median is between the two thresholds (no flapping)', () => {
    const auto = new AutoCommit(options);
    window(auto, 800, 900, 700, 999, 1_000);
    expect(auto.async).toBe(false);
    window(auto, 1_001, 1_001, 1_001, 1_001, 1_001);
    expect(auto.async).toBe(true);
    window(auto, 500, 600, 800, 999, 700);
    expect(auto.async).toBe(true);
    window(auto, 600, 520, 510, 900, 500);
    expect(auto.async).toBe(true);
    window(auto, 499, 499, 499, 2_000, 2_000);
    expect(auto.async).toBe(false);
    expect(auto.switches).toBe(2);
  });
});
