/**
 * Business numbers from the command line, against the service's DATABASE_URL (a first setup, or a
 * script). Usage:
 *   npm run numbers -- add --phone-number-id ID --business-account-id ID [--access-token-stdin]
 *                          [--messages-per-second N] [--display-phone-number "+502 …"]
 *   npm run numbers -- list
 * The access token is read from standard input only (never an argument: those show in `ps` and in
 * shell history), and stored encrypted under SECRETS_KEY.
 */
import { parseArgs } from 'node:util'
import { BusinessNumberRepository } from '../business-numbers/business-number.repository.js'
import { BusinessNumberService } from '../business-numbers/business-number.service.js'
import { TokenCipher } from '../business-numbers/token-cipher.js'
import { ConfigError, loadConfig, loadDotEnv } from '../config.js'
import { openDatabase } from '../db/database.js'
import { DatabaseInUseError } from '../db/pglite-lock.js'
import { AppError } from '../errors/errors.js'

const USAGE = `usage:
  npm run numbers -- add --phone-number-id ID --business-account-id ID [--access-token-stdin]
                         [--messages-per-second N] [--display-phone-number NUMBER]
  npm run numbers -- list`

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8').trim()
}

export async function main(args: string[], out = console.log, err = console.error): Promise<number> {
  const [command, ...rest] = args
  if (command !== 'add' && command !== 'list') {
    err(USAGE)
    return 2
  }
  let options: Record<string, string | boolean | undefined>
  try {
    options = parseArgs({
      args: rest,
      options: {
        'phone-number-id': { type: 'string' },
        'business-account-id': { type: 'string' },
        'access-token-stdin': { type: 'boolean' },
        'messages-per-second': { type: 'string' },
        'display-phone-number': { type: 'string' },
      },
    }).values
  } catch (e) {
    err(`${(e as Error).message}\n${USAGE}`)
    return 2
  }
  loadDotEnv()
  const config = loadConfig()
  const database = await openDatabase(config.database)
  try {
    const numbers = new BusinessNumberService(
      new BusinessNumberRepository(database.prisma),
      config.secretsKey ? new TokenCipher(config.secretsKey) : null,
      { messagesPerSecond: config.messagesPerSecond },
    )
    // The default number (WHATSAPP_*) is listed as the service sees it.
    await numbers.ensureDefault({
      phoneNumberId: config.meta.phoneNumberId,
      businessAccountId: config.meta.businessAccountId,
      messagesPerSecond: config.messagesPerSecond,
    })
    if (command === 'add') {
      const perSecond = options['messages-per-second']
      const added = await numbers.add({
        phoneNumberId: options['phone-number-id'],
        businessAccountId: options['business-account-id'],
        displayPhoneNumber: options['display-phone-number'],
        accessToken: options['access-token-stdin'] ? await readStdin() : undefined,
        messagesPerSecond: perSecond === undefined ? undefined : Number(perSecond),
      })
      out(
        `added ${added.phoneNumberId} (account ${added.businessAccountId}, ${added.messagesPerSecond} messages/s, ` +
          `${added.hasOwnAccessToken ? 'its own access token, encrypted' : 'the shared access token'})`,
      )
      return 0
    }
    for (const n of await numbers.list(null)) {
      out(
        [
          n.phoneNumberId,
          n.businessAccountId,
          n.displayPhoneNumber ?? '-',
          `${n.messagesPerSecond}/s`,
          n.hasOwnAccessToken ? 'own-token' : 'shared-token',
        ].join('\t'),
      )
    }
    return 0
  } catch (e) {
    if (e instanceof AppError) {
      // Validation problems name the flags, not the API's fields (input.phoneNumberId …).
      const flags: Record<string, string> = {
        'input.phoneNumberId': '--phone-number-id',
        'input.businessAccountId': '--business-account-id',
        'input.accessToken': '--access-token-stdin',
        'input.messagesPerSecond': '--messages-per-second',
        'input.displayPhoneNumber': '--display-phone-number',
      }
      err(e.message.replace(/input\.\w+/g, (field) => flags[field] ?? field))
      return 1
    }
    throw e
  } finally {
    await database.close()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof ConfigError || e instanceof DatabaseInUseError ? e.message : e)
      process.exit(1)
    },
  )
}
