import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The PostgreSQL the tests use: found, or started in a temporary directory (never skipped).
    globalSetup: ['test/pg-global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
