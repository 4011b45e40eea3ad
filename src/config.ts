import path from 'node:path'
import { z } from 'zod'
import { PROJECT_ROOT } from './project-root.js'

/** Where the service keeps its data: the embedded PGlite database, or a PostgreSQL server. */
export type DatabaseConfig =
  | { kind: 'pglite'; dataDir: string | null } // null: in memory (tests, throw-away runs)
  /** `statementCacheSize`: hot statements prepared per connection (see StatementNames); 0: none. */
  | { kind: 'postgres'; url: string; statementCacheSize?: number }

/** How the service reaches Meta: the real Graph API, or the in-process simulator for development. */
export type MetaConfig =
  | {
      mode: 'graph-api'
      accessToken: string
      phoneNumberId: string
      businessAccountId: string
      graphApiUrl: string
      apiVersion: string
      timeoutMs: number
    }
  | { mode: 'simulator'; phoneNumberId: string; businessAccountId: string; statusDelayMs: number }

export interface Config {
  env: 'development' | 'production' | 'test'
  host: string
  port: number
  logLevel: string
  database: DatabaseConfig
  /** Bearer tokens accepted by the API. */
  apiTokens: string[]
  /** True when no API_TOKENS were configured and one was generated for this run. */
  apiTokenGenerated: boolean
  meta: MetaConfig
  webhooks: {
    /** Accepted signing secrets, current first (two during a rotation). Empty: webhooks are off. */
    appSecrets: string[]
    verifyToken: string | null
  }
  /** Refuse free-form texts outside the 24-hour customer-service window, before calling Meta. */
  enforceServiceWindow: boolean
  graphql: {
    introspection: boolean
    sandbox: boolean
    maxDepth: number
    maxCost: number
    /** Memory for answers to repeated queries (0: no response cache). */
    responseCacheBytes: number
  }
  /** Requests per API token per minute. */
  rateLimitPerMinute: number
  /** Browser origins (scheme://host[:port]) allowed to call /graphql and /api/whatsapp; none by default. */
  corsOrigins: string[]
  /** Retries of Meta's retryable errors: how many, and the first backoff (it doubles). */
  metaRetry: { maxRetries: number; baseDelayMs: number }
  /** How long a request holds its idempotency key without renewing it (its process is then taken for dead). */
  idempotencyLeaseMs: number
  /** How often each instance looks for due scheduled sends besides its timer. */
  scheduledSendsPollMs: number
  /** Most recipients per template request. */
  maxRecipients: number
  /** Sends to Meta per second for the business number, over any one-second window, all instances together. */
  messagesPerSecond: number
  /** Event webhooks to the business's own endpoints (docs/webhooks-out.md). */
  eventWebhooks: EventWebhooksConfig
  /**
   * The key (32 bytes) stored Meta access tokens are encrypted under (`SECRETS_KEY`); a fixed
   * development key outside production; null in production without one (storing a token is refused).
   */
  secretsKey: Buffer | null
}

/** Outside production only: anyone can read it here, so tokens stored under it are not secret. */
const DEVELOPMENT_SECRETS_KEY = Buffer.alloc(32, 'wa-gateway development key, public')

export interface EventWebhooksConfig {
  /** One delivery attempt, connection to last byte; then it counts as failed. */
  timeoutMs: number
  /** The first retry's wait; it doubles per attempt (with jitter), up to `retryMaxDelayMs`. */
  retryBaseMs: number
  retryMaxDelayMs: number
  /** How long a delivery is retried before it is marked failed (at least 24 h outside tests). */
  retryForMs: number
  /** Deliveries in flight per instance, and per endpoint per instance. */
  concurrency: number
  endpointConcurrency: number
  /** How often due deliveries are looked for besides the wake-ups (other instances', after a restart). */
  pollMs: number
  /**
   * Allow endpoints on private, loopback and link-local addresses in production (and http to
   * loopback): for a benchmark or a closed network only, never on a shared host.
   */
  allowPrivateNetworks: boolean
}

type Env = Record<string, string | undefined>

/** Thrown when configuration is missing or invalid; `problems` has one line per problem. */
export class ConfigError extends Error {
  readonly code = 'INVALID_CONFIG'
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** The embedded database's folder when DATABASE_URL is unset. */
export const DEFAULT_DATA_DIR = path.join(PROJECT_ROOT, 'data', 'pglite')

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v)
const optionalString = z.preprocess(blankToUndefined, z.string().trim().optional())

const envSchema = z.object({
  NODE_ENV: z.preprocess(blankToUndefined, z.enum(['development', 'production', 'test']).default('development')),
  HOST: z.preprocess(blankToUndefined, z.string().default('0.0.0.0')),
  PORT: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).max(65535).default(4000)),
  LOG_LEVEL: z.preprocess(
    blankToUndefined,
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  ),
  DATABASE_URL: optionalString,
  SECRETS_KEY: optionalString,
  API_TOKENS: optionalString,
  CORS_ORIGINS: optionalString,
  WHATSAPP_ACCESS_TOKEN: optionalString,
  WHATSAPP_PHONE_NUMBER_ID: z.preprocess(blankToUndefined, z.string().regex(/^\d+$/, 'must be digits').optional()),
  WHATSAPP_BUSINESS_ACCOUNT_ID: z.preprocess(blankToUndefined, z.string().regex(/^\d+$/, 'must be digits').optional()),
  WHATSAPP_GRAPH_API_URL: z.preprocess(
    blankToUndefined,
    z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .default('https://graph.facebook.com')
      .transform((u) => u.replace(/\/+$/, '')),
  ),
  WHATSAPP_API_VERSION: z.preprocess(
    blankToUndefined,
    z
      .string()
      .regex(/^v\d+\.\d+$/, 'must look like v24.0')
      .default('v24.0'),
  ),
  WHATSAPP_APP_SECRET: optionalString,
  WHATSAPP_WEBHOOK_VERIFY_TOKEN: optionalString,
  WHATSAPP_ENFORCE_SERVICE_WINDOW: z.preprocess(
    blankToUndefined,
    z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
  ),
  GRAPHQL_INTROSPECTION: z.preprocess(
    blankToUndefined,
    z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
  ),
  GRAPHQL_SANDBOX: z.preprocess(
    blankToUndefined,
    z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
  ),
  GRAPHQL_MAX_DEPTH: z.preprocess(blankToUndefined, z.coerce.number().int().min(2).max(100).default(12)),
  GRAPHQL_MAX_COST: z.preprocess(blankToUndefined, z.coerce.number().int().min(10).max(10_000_000).default(20_000)),
  GRAPHQL_RESPONSE_CACHE_MB: z.preprocess(blankToUndefined, z.coerce.number().min(0).max(1024).optional()),
  API_RATE_LIMIT_PER_MINUTE: z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(1).max(1_000_000).default(1200),
  ),
  WHATSAPP_SIMULATOR_STATUS_DELAY_MS: z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(0).max(60_000).default(1000),
  ),
  WHATSAPP_MAX_RECIPIENTS: z.preprocess(blankToUndefined, z.coerce.number().int().min(1).max(100_000).default(1000)),
  // Meta's default throughput per business number is 80 messages/s; the higher tier is 1,000.
  WHATSAPP_MESSAGES_PER_SECOND: z.preprocess(blankToUndefined, z.coerce.number().int().min(1).max(10_000).default(80)),
  WHATSAPP_RETRY_MAX: z.preprocess(blankToUndefined, z.coerce.number().int().min(0).max(10).default(3)),
  WHATSAPP_RETRY_BASE_MS: z.preprocess(blankToUndefined, z.coerce.number().int().min(1).max(60_000).default(500)),
  IDEMPOTENCY_LEASE_MS: z.preprocess(blankToUndefined, z.coerce.number().int().min(100).max(600_000).default(30_000)),
  // The safety net under the scheduled sends' timers (a wake-up another instance's NOTIFY missed).
  SCHEDULED_SENDS_POLL_MS: z.preprocess(blankToUndefined, z.coerce.number().int().min(100).max(600_000).default(5_000)),
  WEBHOOK_OUT_TIMEOUT_MS: z.preprocess(blankToUndefined, z.coerce.number().int().min(50).max(120_000).default(10_000)),
  WEBHOOK_OUT_RETRY_BASE_MS: z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(1).max(3_600_000).default(30_000),
  ),
  WEBHOOK_OUT_RETRY_MAX_DELAY_MS: z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(1).max(86_400_000).default(3_600_000),
  ),
  WEBHOOK_OUT_RETRY_FOR_MS: z.preprocess(
    blankToUndefined,
    z.coerce
      .number()
      .int()
      .min(1)
      .max(30 * 86_400_000)
      .default(24 * 3_600_000),
  ),
  WEBHOOK_OUT_CONCURRENCY: z.preprocess(blankToUndefined, z.coerce.number().int().min(1).max(1000).default(16)),
  WEBHOOK_OUT_ENDPOINT_CONCURRENCY: z.preprocess(blankToUndefined, z.coerce.number().int().min(1).max(100).default(4)),
  WEBHOOK_OUT_POLL_MS: z.preprocess(blankToUndefined, z.coerce.number().int().min(10).max(600_000).default(5_000)),
  WEBHOOK_OUT_ALLOW_PRIVATE_NETWORKS: z.preprocess(
    blankToUndefined,
    z.enum(['true', 'false'], { error: 'must be true or false' }).default('false'),
  ),
  WHATSAPP_REQUEST_TIMEOUT_MS: z.preprocess(
    blankToUndefined,
    z.coerce.number().int().min(100).max(120_000).default(15_000),
  ),
})

/** The statements each PostgreSQL connection keeps prepared, unless DATABASE_URL says otherwise. */
export const DEFAULT_STATEMENT_CACHE_SIZE = 100

/** Parses DATABASE_URL: unset → embedded PGlite in ./data/pglite; `postgres(ql)://` → PostgreSQL
 * (with Prisma's URL parameters `statement_cache_size=N` and `pgbouncer=true`, which means 0);
 * `file:<dir>` → PGlite in that folder; `memory:` → PGlite in memory. */
export function parseDatabaseUrl(url: string | undefined): DatabaseConfig | string {
  if (url === undefined) return { kind: 'pglite', dataDir: DEFAULT_DATA_DIR }
  if (/^postgres(ql)?:\/\//.test(url)) {
    let parsed: URL
    try {
      parsed = new URL(url)
    } catch {
      return 'DATABASE_URL: is not a valid postgres:// URL'
    }
    let statementCacheSize = DEFAULT_STATEMENT_CACHE_SIZE
    const size = parsed.searchParams.get('statement_cache_size')
    if (size !== null) {
      if (!/^\d+$/.test(size)) return 'DATABASE_URL: statement_cache_size must be a whole number (0: none)'
      statementCacheSize = Number(size)
    }
    // PgBouncer in transaction mode may give each statement another server connection.
    if (parsed.searchParams.get('pgbouncer') === 'true') statementCacheSize = 0
    if (!parsed.searchParams.has('statement_cache_size') && !parsed.searchParams.has('pgbouncer'))
      return { kind: 'postgres', url, statementCacheSize }
    parsed.searchParams.delete('statement_cache_size')
    parsed.searchParams.delete('pgbouncer')
    return { kind: 'postgres', url: parsed.toString(), statementCacheSize }
  }
  if (url === 'memory:') return { kind: 'pglite', dataDir: null }
  if (url.startsWith('file:') && url.length > 5) return { kind: 'pglite', dataDir: path.resolve(url.slice(5)) }
  return 'DATABASE_URL: must be a postgres:// URL, file:<folder> for the embedded database, or memory:'
}

/**
 * Loads a `.env` file (KEY=value lines, see .env.example) into the environment when there is one;
 * variables already set win. Called once at start-up, before {@link loadConfig}.
 */
export function loadDotEnv(file = path.join(PROJECT_ROOT, '.env')): void {
  try {
    process.loadEnvFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
}

/** The database part of the configuration alone (for the migration command). */
export function loadDatabaseConfig(env: Env = process.env): DatabaseConfig {
  const parsed = parseDatabaseUrl(blankToUndefined(env.DATABASE_URL) as string | undefined)
  if (typeof parsed === 'string') throw new ConfigError([parsed])
  return parsed
}

/**
 * Reads and validates the whole configuration once. The only place that reads `process.env`.
 * @throws ConfigError listing every problem, one per line.
 */
export function loadConfig(env: Env = process.env): Config {
  const parsed = envSchema.safeParse(env)
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  }
  const e = parsed.data
  const problems: string[] = []
  const production = e.NODE_ENV === 'production'

  const database = parseDatabaseUrl(e.DATABASE_URL)
  if (typeof database === 'string') problems.push(database)

  let apiTokens = (e.API_TOKENS ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
  const apiTokenGenerated = apiTokens.length === 0 && !production
  if (apiTokens.length === 0 && production)
    problems.push('API_TOKENS: required in production (comma-separated bearer tokens)')
  if (apiTokens.some((t) => t.length < 16)) problems.push('API_TOKENS: every token must be at least 16 characters')
  const corsOrigins = (e.CORS_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter(Boolean)
  for (const origin of corsOrigins) {
    if (!isOrigin(origin)) problems.push(`CORS_ORIGINS: ${origin} is not an origin like https://dashboard.example.com`)
  }
  if (apiTokenGenerated) apiTokens = [`dev_${crypto.randomUUID().replaceAll('-', '')}`]

  let meta: MetaConfig
  if (e.WHATSAPP_ACCESS_TOKEN) {
    if (!e.WHATSAPP_PHONE_NUMBER_ID) problems.push('WHATSAPP_PHONE_NUMBER_ID: required with WHATSAPP_ACCESS_TOKEN')
    if (!e.WHATSAPP_BUSINESS_ACCOUNT_ID)
      problems.push('WHATSAPP_BUSINESS_ACCOUNT_ID: required with WHATSAPP_ACCESS_TOKEN')
    meta = {
      mode: 'graph-api',
      accessToken: e.WHATSAPP_ACCESS_TOKEN,
      phoneNumberId: e.WHATSAPP_PHONE_NUMBER_ID ?? '',
      businessAccountId: e.WHATSAPP_BUSINESS_ACCOUNT_ID ?? '',
      graphApiUrl: e.WHATSAPP_GRAPH_API_URL,
      apiVersion: e.WHATSAPP_API_VERSION,
      timeoutMs: e.WHATSAPP_REQUEST_TIMEOUT_MS,
    }
  } else {
    if (production)
      problems.push('WHATSAPP_ACCESS_TOKEN: required in production (the simulator is for development only)')
    meta = {
      mode: 'simulator',
      phoneNumberId: e.WHATSAPP_PHONE_NUMBER_ID ?? '100000000000001',
      businessAccountId: e.WHATSAPP_BUSINESS_ACCOUNT_ID ?? '200000000000002',
      statusDelayMs: e.WHATSAPP_SIMULATOR_STATUS_DELAY_MS,
    }
  }

  let appSecrets = (e.WHATSAPP_APP_SECRET ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean)
  if (appSecrets.length > 2) problems.push('WHATSAPP_APP_SECRET: at most two secrets (current,previous)')
  const appSecretConfigured = appSecrets.length > 0
  // The simulator signs its webhooks like Meta; give it a secret of its own when none is set.
  if (!appSecretConfigured && meta.mode === 'simulator') appSecrets = [`sim_${crypto.randomUUID()}`]
  const enforceServiceWindow =
    e.WHATSAPP_ENFORCE_SERVICE_WINDOW === undefined ? appSecretConfigured : e.WHATSAPP_ENFORCE_SERVICE_WINDOW === 'true'

  let secretsKey: Buffer | null = production ? null : DEVELOPMENT_SECRETS_KEY
  if (e.SECRETS_KEY !== undefined) {
    const key = /^[0-9a-f]{64}$/i.test(e.SECRETS_KEY)
      ? Buffer.from(e.SECRETS_KEY, 'hex')
      : Buffer.from(e.SECRETS_KEY, 'base64')
    if (key.length === 32) secretsKey = key
    else problems.push('SECRETS_KEY: must be 32 random bytes, as 64 hex digits or base64 (openssl rand -base64 32)')
  }

  if (problems.length > 0) throw new ConfigError(problems)
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    logLevel: e.LOG_LEVEL,
    database: database as DatabaseConfig,
    apiTokens,
    apiTokenGenerated,
    meta,
    webhooks: { appSecrets, verifyToken: e.WHATSAPP_WEBHOOK_VERIFY_TOKEN ?? null },
    enforceServiceWindow,
    graphql: {
      // Off in production unless asked for; on elsewhere unless switched off.
      introspection: e.GRAPHQL_INTROSPECTION ? e.GRAPHQL_INTROSPECTION === 'true' : !production,
      sandbox: e.GRAPHQL_SANDBOX ? e.GRAPHQL_SANDBOX === 'true' : !production,
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxCost: e.GRAPHQL_MAX_COST,
      // Off by default on PostgreSQL: its validity check is the server's snapshot, which a commit
      // in any other database of a shared server moves too (the cache would keep emptying).
      responseCacheBytes: Math.round(
        (e.GRAPHQL_RESPONSE_CACHE_MB ?? ((database as DatabaseConfig).kind === 'postgres' ? 0 : 8)) * 1024 * 1024,
      ),
    },
    rateLimitPerMinute: e.API_RATE_LIMIT_PER_MINUTE,
    corsOrigins,
    metaRetry: { maxRetries: e.WHATSAPP_RETRY_MAX, baseDelayMs: e.WHATSAPP_RETRY_BASE_MS },
    idempotencyLeaseMs: e.IDEMPOTENCY_LEASE_MS,
    scheduledSendsPollMs: e.SCHEDULED_SENDS_POLL_MS,
    messagesPerSecond: e.WHATSAPP_MESSAGES_PER_SECOND,
    maxRecipients: e.WHATSAPP_MAX_RECIPIENTS,
    eventWebhooks: {
      timeoutMs: e.WEBHOOK_OUT_TIMEOUT_MS,
      retryBaseMs: e.WEBHOOK_OUT_RETRY_BASE_MS,
      retryMaxDelayMs: e.WEBHOOK_OUT_RETRY_MAX_DELAY_MS,
      retryForMs: e.WEBHOOK_OUT_RETRY_FOR_MS,
      concurrency: e.WEBHOOK_OUT_CONCURRENCY,
      endpointConcurrency: e.WEBHOOK_OUT_ENDPOINT_CONCURRENCY,
      pollMs: e.WEBHOOK_OUT_POLL_MS,
      allowPrivateNetworks: e.WEBHOOK_OUT_ALLOW_PRIVATE_NETWORKS === 'true',
    },
    secretsKey,
  }
}

/** An origin as browsers send it: http(s), a host, maybe a port; no path, no trailing slash. */
function isOrigin(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value
  } catch {
    return false
  }
}
