import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Corpus and cross-check tests read ~1000 files and run tshark; they measure nothing about speed.
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // One temporary directory per run, removed at its end (see the file).
    globalSetup: ['test/helpers/temp-root.ts'],
  },
});
