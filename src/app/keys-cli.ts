/**
 * API keys from the command line, for a first setup (before any ADMIN key exists to call GraphQL):
 *   npm run keys -- create --name NAME --scope READ|SEND|ADMIN [--number PHONE_NUMBER_ID]...
 *   npm run keys -- list
 *   npm run keys -- revoke NAME
 * Against the service's database (DATABASE_URL, or the embedded one), migrated first as the
 * service does. `create` prints the new key alone on its last line (`| tail -n 1` in scripts).
 */
import { parseArgs } from 'node:util'
import { ApiKeyRepository } from '../api-keys/api-key.repository.js'
import { ApiKeyService } from '../api-keys/api-key.service.js'
import { ConfigError, loadDatabaseConfig, loadDotEnv } from '../config.js'
import { openDatabase } from '../db/database.js'
import { DatabaseInUseError } from '../db/pglite-lock.js'
import { ValidationError } from '../errors/errors.js'
import { type EventBus, InProcessEventBus } from '../events/event-bus.js'
import { PostgresEventBus } from '../events/postgres-event-bus.js'

const USAGE = `usage:
  npm run keys -- create --name NAME --scope READ|SEND|ADMIN [--number PHONE_NUMBER_ID]...
  npm run keys -- list
  npm run keys -- revoke NAME`

class UsageError extends Error {}

/** The option a service field came from: `input.phoneNumberIds[0]` → `--number`. */
const option = (field: string) =>
  ({ name: '--name', scope: '--scope', phoneNumberIds: '--number' })[/^input\.(\w+)/.exec(field)?.[1] ?? ''] ?? field

async function run(argv: string[], out: (line: string) => void): Promise<number> {
  const [command, ...rest] = argv
  if (!['create', 'list', 'revoke'].includes(command)) throw new UsageError(`unknown command: ${command ?? '(none)'}`)
  const { values, positionals } = parseArgs({
    args: rest,
    options: {
      name: { type: 'string' },
      scope: { type: 'string' },
      number: { type: 'string', multiple: true },
    },
    allowPositionals: true,
  })
  loadDotEnv()
  const config = loadDatabaseConfig()
  const database = await openDatabase(config)
  // A revocation reaches the running instances (on PostgreSQL; the embedded database has none running).
  const events: EventBus =
    config.kind === 'postgres' ? await PostgresEventBus.connect(config.url, () => {}) : new InProcessEventBus()
  const keys = new ApiKeyService(new ApiKeyRepository(database.prisma), events)
  try {
    if (command === 'create') {
      const { key, apiKey } = await keys.create({
        name: values.name,
        scope: values.scope?.toUpperCase(),
        phoneNumberIds: values.number ?? null,
      })
      const numbers = apiKey.phoneNumberIds?.join(', ') ?? 'every number'
      out(`Created ${apiKey.name}: scope ${apiKey.scope}, ${numbers}.`)
      out('The key is shown only now (only its digest is stored): keep it.')
      out(key)
    } else if (command === 'list') {
      const list = await keys.list()
      if (!list.length) out('No API keys (API_TOKENS, if set, still work).')
      for (const k of list)
        out(
          [
            k.name,
            k.scope,
            k.phoneNumberIds?.join(',') ?? 'every number',
            `created ${k.createdAt.toISOString()}`,
            `last used ${k.lastUsedAt?.toISOString() ?? 'never'}`,
          ].join('\t'),
        )
    } else {
      if (positionals.length !== 1) throw new UsageError('revoke takes the name of one key')
      if (!(await keys.revoke(positionals[0]))) {
        out(`No key named ${positionals[0]}.`)
        return 1
      }
      out(`Revoked ${positionals[0]}: refused from now on, on every instance.`)
    }
    return 0
  } finally {
    await keys.close()
    await events.close()
    await database.close()
  }
}

run(process.argv.slice(2), (line) => console.log(line)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) console.error(`${err.message}\n${USAGE}`)
    else if (err instanceof ValidationError) for (const f of err.fields) console.error(`${option(f.path)} ${f.message}`)
    else if (err instanceof ConfigError) for (const p of err.problems) console.error(`config: ${p}`)
    else if (err instanceof DatabaseInUseError) console.error(err.message)
    else console.error(err)
    process.exit(err instanceof UsageError ? 2 : 1)
  },
)
