import { defineConfig } from 'vitest/config';

// The headless-browser checks of the HTML report: `npm run test:browser`, apart from `npm test`
// so the README's test command passes on a machine without a browser.
export default defineConfig({
  test: {
    include: ['test-browser/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
});
