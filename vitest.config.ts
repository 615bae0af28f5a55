import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Generated skeletons import the package by name; tests run them against the sources.
    alias: {
      'bpf-skel/runtime': fileURLToPath(new URL('./src/runtime/index.ts', import.meta.url)),
    },
  },
  test: {
    include: ['test/**/*.test.ts'],
    // koffi and the kernel objects tests make are per process: one process per test file.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
