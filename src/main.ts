import { createApp } from './app.js'
import { ConfigError, loadConfig, loadDotEnv } from './config.js'

async function main() {
  let config
  try {
    loadDotEnv()
    config = loadConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) console.error(`config: ${problem}`)
      process.exit(1)
    }
    throw err
  }

  const app = await createApp(config)
  const log = app.server.log
  if (config.meta.mode === 'simulator') {
    log.warn(
      'SIMULATOR MODE: no WHATSAPP_ACCESS_TOKEN, so messages go to an in-process simulated Graph API, not to WhatsApp',
    )
  }
  const url = await app.listen()
  if (config.apiTokenGenerated) {
    // Printed once, on purpose: a newcomer needs it for Apollo Sandbox and curl.
    console.log(`\nNo API_TOKENS configured: this run accepts the development token\n\n  ${config.apiTokens[0]}\n`)
  }
  log.info(`GraphQL (Apollo Sandbox in a browser) at ${url}/graphql, REST at ${url}/api/whatsapp`)

  let closing = false
  const shutdown = async (signal: string) => {
    if (closing) return
    closing = true
    log.info(`${signal}: finishing in-flight requests`)
    await app.close()
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown('SIGINT'))
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
