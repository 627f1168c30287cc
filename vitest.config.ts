import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default'],
  },
  resolve: {
    // Exactly the barrel: '@pkgfleet/shared/<file>' (a file of shared, imported lazily) resolves by the package's exports
    alias: [{ find: /^@pkgfleet\/shared$/, replacement: new URL('./packages/shared/src/index.ts', import.meta.url).pathname }],
  },
});
