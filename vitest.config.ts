import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['*/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    // Real parts (pty pairs, child processes, brokers) take longer than pure tests.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
