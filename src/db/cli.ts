/**
 * Offline replacements for the Prisma CLI commands this project needs (the CLI downloads a native
 * engine at run time). Usage:
 *   tsx src/db/cli.ts generate                 write the Prisma client to src/generated/prisma
 *   tsx src/db/cli.ts migrate create <name>    new migration from schema.prisma changes
 *   tsx src/db/cli.ts migrate deploy           apply pending migrations to DATABASE_URL's database
 *   tsx src/db/cli.ts migrate check            fail when schema.prisma has changes no migration holds
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { PrismaPGlite } from 'pglite-prisma-adapter'
import { loadDatabaseConfig } from '../config.js'
import { applyMigrations, createMigration, pendingSchemaChanges, SCHEMA_PATH } from './schema-engine.js'

/** Runs the `prisma-client` generator in-process, as `prisma generate` would, without any download. */
export async function generateClient(schemaPath = SCHEMA_PATH): Promise<void> {
  // These are CommonJS-only tooling packages; load them through require.
  const require = createRequire(import.meta.url)
  const { getGenerators } = require('@prisma/internals')
  const { PrismaClientTsGenerator } = require('@prisma/client-generator-ts')
  const generators = await getGenerators({
    schemaPath,
    registry: { 'prisma-client': { type: 'in-process', generator: new PrismaClientTsGenerator() } },
    skipDownload: true,
    cliCommand: 'generate',
  })
  for (const generator of generators) {
    await generator.generate()
    generator.stop()
    const classFile = path.join(generator.config.output.value, 'internal', 'class.ts')
    writeFileSync(classFile, patchQueryCompilerLoading(readFileSync(classFile, 'utf8'), createRequire(classFile)))
  }
}

const COMPILER_IMPORT =
  /const \{ wasm \} = await import\("(@prisma\/client\/runtime\/query_compiler_[\w.]+\.wasm-base64\.mjs)"\)\n(\s*)return await decodeBase64AsWasm\(wasm\)/

/**
 * The generated client imports its query compiler from a module that holds the WebAssembly in
 * base64 (4.6 MB). A module once imported stays loaded, and V8 keeps its source text and the string
 * literal: ~9 MB of heap for the life of every process. This makes the client read that file,
 * decode it and let the text go instead. Throws when the generated code or that file no longer look
 * as expected (a Prisma upgrade), rather than leave a client that fails at its first query.
 */
export function patchQueryCompilerLoading(classSource: string, require: NodeJS.Require): string {
  const found = COMPILER_IMPORT.exec(classSource)
  if (!found) throw new Error('generate: the query compiler import in internal/class.ts changed; update cli.ts')
  const [statement, specifier, indent] = found
  if (
    !/^const wasm = "[A-Za-z0-9+/]+=*";\s*export \{ wasm \}\s*$/.test(
      readFileSync(require.resolve(specifier), 'latin1'),
    )
  )
    throw new Error(`generate: ${specifier} is no longer one base64 string literal; update cli.ts`)
  const read = [
    `// Patched by src/db/cli.ts (patchQueryCompilerLoading): read once, not imported and kept.`,
    `const { readFile } = await import('node:fs/promises')`,
    `const { createRequire } = await import('node:module')`,
    `const text = await readFile(createRequire(import.meta.url).resolve(${JSON.stringify(specifier)}), 'latin1')`,
    `return await decodeBase64AsWasm(text.slice(text.indexOf('"') + 1, text.lastIndexOf('"')))`,
  ]
  return classSource.replace(statement, () => read.join(`\n${indent}`))
}

async function main(args: string[]): Promise<number> {
  const [command, sub, name] = args
  if (command === 'generate') {
    await generateClient()
    console.log('Prisma client generated in src/generated/prisma')
    return 0
  }
  if (command === 'migrate' && sub === 'create') {
    if (!name || !/^[a-z0-9_]+$/.test(name)) {
      console.error('usage: migrate create <name>   (lowercase letters, digits and _)')
      return 2
    }
    // A throw-away embedded database is all the engine needs: it replays the migrations there.
    const created = await createMigration(new PrismaPGlite(new PGlite()), name)
    console.log(
      created ? `created prisma/migrations/${created}/migration.sql` : 'schema.prisma has no changes to migrate',
    )
    return 0
  }
  if (command === 'migrate' && sub === 'check') {
    const sql = await pendingSchemaChanges(new PrismaPGlite(new PGlite()))
    if (sql) {
      console.error(`schema.prisma has changes no migration holds; run: npm run db:migrate:create -- <name>\n\n${sql}`)
      return 1
    }
    console.log('migrations match schema.prisma')
    return 0
  }
  if (command === 'migrate' && sub === 'deploy') {
    // Imported here: it needs the generated client, which `generate` (run by npm ci) creates.
    const { adapterFactoryFor } = await import('./database.js')
    const { factory, close } = await adapterFactoryFor(loadDatabaseConfig())
    try {
      const applied = await applyMigrations(factory)
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date')
    } finally {
      await close()
    }
    return 0
  }
  console.error('usage: cli.ts generate | migrate create <name> | migrate check | migrate deploy')
  return 2
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      console.error(err instanceof Error ? err.message : err)
      process.exit(1)
    },
  )
}
