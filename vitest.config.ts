import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests that run compiled code never see a stale dist/ (test/global-setup.ts, first); the
    // PostgreSQL the tests use: found, or started in a temporary directory (never skipped).
    globalSetup: ['test/global-setup.ts', 'test/pg-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
