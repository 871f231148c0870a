import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global/moto.ts'],
    // Every answer a test receives from a Libra API is checked against docs/openapi.json.
    setupFiles: ['test/support/contract-setup.ts'],
    // dynalite and the local runtime run in-process: two cores, so keep the pool small.
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    allowOnly: false,
  },
});
