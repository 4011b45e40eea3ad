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
    hookTimeout: 60_000,
  },
})
