import { createRequire } from 'node:module'
import { defineConfig } from 'vitest/config'

const require = createRequire(import.meta.url)

export default defineConfig({
  resolve: {
    // graphql ships CommonJS and ESM builds; Node (and so Apollo and type-graphql) loads the
    // CommonJS one. Make test code load the same instance, or `instanceof GraphQLError` and schema
    // checks fail across the two copies.
    alias: [{ find: /^graphql$/, replacement: require.resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    // Each file starts a real server and database (PGlite boots in about a second).
    testTimeout: 30_000,
    // Files run in parallel: most of a file's time is waiting (servers, timers, child processes),
    // and one worker left the second core idle (a CI run took over 20 minutes on two cores).
    maxWorkers: 2,
    hookTimeout: 60_000,
  },
})
