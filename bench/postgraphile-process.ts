/**
 * The dashboard benchmark's baseline (bench/dashboard.ts): PostGraphile 4 as a library on a plain
 * node:http server, over the benchmark's seeded PostgreSQL database (after the setup SQL of
 * bench/dashboard.ts: the functions and comments it needs to ask the service's questions).
 * Production-like options: no GraphiQL, no watch mode, no default mutations, no query log,
 * JSON columns as JSON (dynamicJson), set-returning functions without nulls, the `pg` driver the
 * service uses with the same pool size (10).
 *
 * Environment: DATABASE_URL, PORT (0: any). Prints one JSON line, {url}, once listening.
 */
import { createServer } from 'node:http'
import Module, { createRequire } from 'node:module'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import pg from 'pg'
import type * as PostGraphile from 'postgraphile'

// One graphql-js for all of PostGraphile. It needs graphql 15, and npm installs it twice (under
// postgraphile and under graphile-build-pg), while graphql-parse-resolve-info, which also accepts
// 16, is hoisted next to the service's graphql 16: three copies, and graphql-js refuses types made
// by another copy ("Cannot use GraphQLScalarType "Int" from another module or realm"). This
// process runs nothing else, so every `graphql` PostGraphile's modules ask for is postgraphile's own.
const require = createRequire(import.meta.url)
const graphql15 = path.dirname(
  createRequire(require.resolve('postgraphile/package.json')).resolve('graphql/package.json'),
)
const loader = Module as unknown as { _resolveFilename: (request: string, ...rest: unknown[]) => string }
const resolveFilename = loader._resolveFilename
loader._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
  const redirected = request === 'graphql' || request.startsWith('graphql/') ? graphql15 + request.slice(7) : request
  return resolveFilename.call(this, redirected, ...rest)
}
const { postgraphile } = require('postgraphile') as typeof PostGraphile

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 })
pool.on('error', () => {
  // an idle client closed by the server (the scratch database dropped): the pool replaces it
})

const handler = postgraphile(pool, 'public', {
  graphiql: false,
  watchPg: false,
  disableDefaultMutations: true,
  dynamicJson: true,
  setofFunctionsContainNulls: false,
  disableQueryLog: true,
  retryOnInitFail: false,
  enableCors: false,
  showErrorStack: false,
  ignoreRBAC: true,
  legacyRelations: 'omit',
  graphqlRoute: '/graphql',
})

// Introspection and the schema build finish before the first request (as after a deploy's warm-up).
await handler.getGraphQLSchema()
const server = createServer(handler)
server.keepAliveTimeout = 65_000
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve))
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`)

const shutdown = () => {
  server.close()
  server.closeAllConnections()
  void handler.release().finally(() => pool.end().finally(() => process.exit(0)))
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
