import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ConfigError, DEFAULT_DATA_DIR, loadConfig } from '../src/config.js'

const problems = (env: Record<string, string>) => {
  try {
    loadConfig(env)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems
    throw err
  }
  return []
}

describe('loadConfig', () => {
  it('runs a newcomer with no configuration: embedded database, simulator, generated token', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      env: 'development',
      port: 4000,
      database: { kind: 'pglite', dataDir: DEFAULT_DATA_DIR },
      meta: { mode: 'simulator' },
      apiTokenGenerated: true,
    })
    expect(config.apiTokens).toEqual([expect.stringMatching(/^dev_[0-9a-f]{32}$/)])
    expect(loadConfig({}).apiTokens).not.toEqual(config.apiTokens)
  })

  it('reads every documented variable', () => {
    const config = loadConfig({
      PORT: '8080',
      DATABASE_URL: 'postgres://app:secret@db.internal:5432/wa',
      API_TOKENS: ' token-aaaaaaaaaaaaaaaa , token-bbbbbbbbbbbbbbbb ',
      WHATSAPP_ACCESS_TOKEN: 'EAAG-token',
      WHATSAPP_PHONE_NUMBER_ID: '106540352242922',
      WHATSAPP_BUSINESS_ACCOUNT_ID: '102290129340398',
      WHATSAPP_GRAPH_API_URL: 'http://127.0.0.1:9999/',
      WHATSAPP_API_VERSION: 'v23.0',
    })
    expect(config).toMatchObject({
      port: 8080,
      database: { kind: 'postgres', url: 'postgres://app:secret@db.internal:5432/wa' },
      apiTokens: ['token-aaaaaaaaaaaaaaaa', 'token-bbbbbbbbbbbbbbbb'],
      apiTokenGenerated: false,
      meta: {
        mode: 'graph-api',
        accessToken: 'EAAG-token',
        phoneNumberId: '106540352242922',
        businessAccountId: '102290129340398',
        graphApiUrl: 'http://127.0.0.1:9999',
        apiVersion: 'v23.0',
      },
    })
  })

  it('keeps 8 MB of GraphQL answers with the embedded database, none with PostgreSQL unless told; 0 turns it off', () => {
    expect(loadConfig({}).graphql.responseCacheBytes).toBe(8 * 1024 * 1024)
    // PostgreSQL's snapshot is the whole server's: off unless asked for.
    const postgres = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test' }
    expect(loadConfig(postgres).graphql.responseCacheBytes).toBe(0)
    expect(loadConfig({ ...postgres, GRAPHQL_RESPONSE_CACHE_MB: '8' }).graphql.responseCacheBytes).toBe(8 * 1024 * 1024)
    expect(loadConfig({ GRAPHQL_RESPONSE_CACHE_MB: '0.5' }).graphql.responseCacheBytes).toBe(512 * 1024)
    expect(loadConfig({ GRAPHQL_RESPONSE_CACHE_MB: '0' }).graphql.responseCacheBytes).toBe(0)
    expect(problems({ GRAPHQL_RESPONSE_CACHE_MB: '-1' })).toEqual([
      expect.stringMatching(/^GRAPHQL_RESPONSE_CACHE_MB: /),
    ])
    expect(problems({ GRAPHQL_RESPONSE_CACHE_MB: 'lots' })).toEqual([
      expect.stringMatching(/^GRAPHQL_RESPONSE_CACHE_MB: /),
    ])
  })

  it('defaults the Graph API to graph.facebook.com v24.0', () => {
    const config = loadConfig({
      WHATSAPP_ACCESS_TOKEN: 't',
      WHATSAPP_PHONE_NUMBER_ID: '1',
      WHATSAPP_BUSINESS_ACCOUNT_ID: '2',
    })
    expect(config.meta).toMatchObject({ graphApiUrl: 'https://graph.facebook.com', apiVersion: 'v24.0' })
  })

  it('limits sends to Meta at 80 per second unless told otherwise', () => {
    expect(loadConfig({}).messagesPerSecond).toBe(80)
    expect(loadConfig({ WHATSAPP_MESSAGES_PER_SECOND: '1000' }).messagesPerSecond).toBe(1000)
    expect(problems({ WHATSAPP_MESSAGES_PER_SECOND: '0' })).toEqual([
      expect.stringMatching(/^WHATSAPP_MESSAGES_PER_SECOND: /),
    ])
  })

  it('allows no browser origin unless CORS_ORIGINS lists them, each a bare origin', () => {
    expect(loadConfig({}).corsOrigins).toEqual([])
    expect(loadConfig({ CORS_ORIGINS: 'https://a.example.gt, http://localhost:5173' }).corsOrigins).toEqual([
      'https://a.example.gt',
      'http://localhost:5173',
    ])
    expect(problems({ CORS_ORIGINS: 'https://a.example.gt/panel,*' })).toEqual([
      expect.stringMatching(/^CORS_ORIGINS: https:\/\/a.example.gt\/panel /),
      expect.stringMatching(/^CORS_ORIGINS: \* /),
    ])
  })

  it('accepts file: and memory: for the embedded database', () => {
    expect(loadConfig({ DATABASE_URL: 'file:./tmp/db' }).database).toEqual({
      kind: 'pglite',
      dataDir: path.resolve('./tmp/db'),
    })
    expect(loadConfig({ DATABASE_URL: 'memory:' }).database).toEqual({ kind: 'pglite', dataDir: null })
  })

  it('refuses the simulator and generated tokens in production, one line per problem', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([
      expect.stringMatching(/^API_TOKENS: required in production/),
      expect.stringMatching(/^WHATSAPP_ACCESS_TOKEN: required in production/),
    ])
  })

  it('lists every bad value at once', () => {
    expect(
      problems({
        PORT: 'eighty',
        WHATSAPP_API_VERSION: '24',
        WHATSAPP_GRAPH_API_URL: 'ftp://x',
        WHATSAPP_PHONE_NUMBER_ID: 'abc',
        DATABASE_URL: 'mysql://x',
        NODE_ENV: 'staging',
      }),
    ).toEqual([
      expect.stringMatching(/^NODE_ENV: /),
      expect.stringMatching(/^PORT: /),
      expect.stringMatching(/^WHATSAPP_PHONE_NUMBER_ID: must be digits/),
      expect.stringMatching(/^WHATSAPP_GRAPH_API_URL: must be an http\(s\) URL/),
      expect.stringMatching(/^WHATSAPP_API_VERSION: must look like v24.0/),
    ])
    expect(problems({ DATABASE_URL: 'mysql://x' })).toEqual([expect.stringMatching(/^DATABASE_URL: /)])
    expect(problems({ WHATSAPP_ACCESS_TOKEN: 't' })).toEqual([
      expect.stringMatching(/^WHATSAPP_PHONE_NUMBER_ID: required/),
      expect.stringMatching(/^WHATSAPP_BUSINESS_ACCOUNT_ID: required/),
    ])
    expect(problems({ API_TOKENS: 'short' })).toEqual([expect.stringMatching(/^API_TOKENS: .*16 characters/)])
  })
})

describe('loadDotEnv', () => {
  it('loads a .env file without overriding variables already set, and ignores a missing file', async () => {
    const { mkdtemp, writeFile, rm } = await import('node:fs/promises')
    const { tmpdir } = await import('node:os')
    const { loadDotEnv } = await import('../src/config.js')
    const dir = await mkdtemp(path.join(tmpdir(), 'wa-env-'))
    try {
      await writeFile(path.join(dir, '.env'), 'WA_TEST_FROM_FILE=file\nWA_TEST_ALREADY=file\n')
      process.env.WA_TEST_ALREADY = 'process'
      loadDotEnv(path.join(dir, '.env'))
      expect(process.env.WA_TEST_FROM_FILE).toBe('file')
      expect(process.env.WA_TEST_ALREADY).toBe('process')
      expect(() => loadDotEnv(path.join(dir, 'missing.env'))).not.toThrow()
    } finally {
      delete process.env.WA_TEST_FROM_FILE
      delete process.env.WA_TEST_ALREADY
      await rm(dir, { recursive: true, force: true })
    }
  })
})
