import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file starts a real server and database (PGlite boots in about a second).
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
