/**
 * The GraphQL read's baseline: a bare node:http + graphql-js server, no framework. It serves the
 * service's schema (the SDL printed from the type-graphql build, rebuilt with plain graphql-js
 * `buildSchema`, plus hand-written resolvers for the fields the benchmark reads) over the same
 * data and the same SQL round trips: the same bearer-token gate (token check plus the shared
 * rate-limit upsert), the same ConversationService/ConversationRepository (Prisma) and the same
 * DataLoaders. Parse and validate results are kept in an LRU cache keyed by the query text.
 *
 * Environment: DATABASE_URL, API_TOKENS, API_RATE_LIMIT_PER_MINUTE, PORT. Prints one JSON line,
 * {url}, once listening.
 */
import 'reflect-metadata'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  buildSchema,
  type DocumentNode,
  execute,
  type GraphQLEnumType,
  type GraphQLError,
  type GraphQLObjectType,
  type GraphQLScalarType,
  parse,
  printSchema,
  validate,
} from 'graphql'
import { DateTimeResolver } from 'graphql-scalars'
import { createGate, createIdentify } from '../src/auth/auth.js'
import { RateLimiter } from '../src/auth/rate-limit.js'
import { loadDatabaseConfig } from '../src/config.js'
import { toConnection } from '../src/shared/connection.type.js'
import { createConversationLoaders } from '../src/conversations/conversation.loaders.js'
import { ReactionRepository } from '../src/messages/reaction.repository.js'
import { MediaRepository } from '../src/media/media.repository.js'
import type { ConversationRecord } from '../src/messages/message.records.js'
import { MessageRepository } from '../src/messages/message.repository.js'
import { ConversationRepository } from '../src/conversations/conversation.repository.js'
import { ConversationService } from '../src/conversations/conversation.service.js'
import { ConversationReadRepository } from '../src/conversations/conversation-read.repository.js'
import { adapterFactoryFor } from '../src/db/database.js'
import { PrismaClient } from '../src/generated/prisma/client.js'
import { getSchema } from '../src/graphql/schema.js'

// The service's driver adapter and Prisma client options (src/db/database.ts), without applying
// migrations: the database is the service's, already migrated.
const adapter = await adapterFactoryFor(loadDatabaseConfig())
const prisma = new PrismaClient({ adapter: adapter.factory, log: [{ emit: 'event', level: 'query' }] })
const queryListeners = new Set<(sql: string) => void>()
prisma.$on('query', (event) => {
  for (const listener of queryListeners) listener(event.query)
})
const database = {
  prisma,
  sql: adapter.sql(() => {}),
  close: async () => {
    await prisma.$disconnect()
    await adapter.close()
  },
}
const repository = new ConversationRepository(database.prisma, database.sql)
const media = new MediaRepository(database.prisma)
const reactions = new ReactionRepository(database.prisma)
const reads = new ConversationReadRepository(database.sql)
const service = new ConversationService(
  repository,
  reads,
  new MessageRepository(database.prisma, database.sql),
  media,
  reactions,
)
const sources = { conversations: repository, reads, media, reactions, pages: service }
const tokens = (process.env.API_TOKENS ?? '').split(',').filter(Boolean)
const gate = createGate(
  createIdentify(tokens, async () => null),
  new RateLimiter(database.prisma, Number(process.env.API_RATE_LIMIT_PER_MINUTE ?? 1200)),
)

// The same SDL, as plain graphql-js: no type-graphql wrappers around any resolver.
const schema = buildSchema(printSchema(await getSchema()))
type Context = { loaders: ReturnType<typeof createConversationLoaders> }
const query = schema.getQueryType()!.getFields()
query.conversations.resolve = async (_root, args) => toConnection(await service.page(args))
const conversation = schema.getType('Conversation') as GraphQLObjectType
conversation.getFields().lastMessage.resolve = (c: ConversationRecord, _args, ctx: Context) =>
  c.lastMessageId ? ctx.loaders.message.load(c.lastMessageId) : null
conversation.getFields().messageCount.resolve = (c: ConversationRecord, _args, ctx: Context) =>
  ctx.loaders.messageCount.load(c.id)
// Enums carry the database's lowercase values, as type-graphql's do; scalars serialise as theirs.
for (const name of ['MessageStatus', 'MessageDirection']) {
  const type = schema.getType(name) as GraphQLEnumType
  for (const value of type.getValues()) value.value = value.name.toLowerCase()
  // graphql-js builds its value lookup lazily, on first use: drop it in case it was built already.
  ;(type as unknown as { _valueLookup: unknown })._valueLookup = null
}
Object.assign(schema.getType('DateTime') as GraphQLScalarType, {
  serialize: DateTimeResolver.serialize,
  parseValue: DateTimeResolver.parseValue,
  parseLiteral: DateTimeResolver.parseLiteral,
})

/** Parse + validate, cached by query text (least recently used out first). */
const documents = new Map<string, { document: DocumentNode } | { errors: readonly GraphQLError[] }>()
const MAX_DOCUMENTS = 1000
function documentFor(source: string) {
  let entry = documents.get(source)
  if (entry) {
    documents.delete(source)
    documents.set(source, entry)
    return entry
  }
  try {
    const document = parse(source)
    const errors = validate(schema, document)
    entry = errors.length ? { errors } : { document }
  } catch (err) {
    entry = { errors: [err as GraphQLError] }
  }
  documents.set(source, entry)
  if (documents.size > MAX_DOCUMENTS) documents.delete(documents.keys().next().value!)
  return entry
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  if (req.method !== 'POST' || req.url !== '/graphql') return send(res, 404, { error: 'not found' })
  // What Apollo's CSRF prevention asks of a POST.
  if (!String(req.headers['content-type']).startsWith('application/json')) {
    return send(res, 415, { errors: [{ message: 'content-type must be application/json' }] })
  }
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  let body: { query?: unknown; variables?: Record<string, unknown>; operationName?: string }
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    return send(res, 400, { errors: [{ message: 'invalid JSON' }] })
  }
  try {
    await gate(req.headers.authorization)
  } catch (err) {
    return send(res, 401, { errors: [{ message: (err as Error).message }] })
  }
  if (typeof body.query !== 'string') return send(res, 400, { errors: [{ message: 'query is required' }] })
  const entry = documentFor(body.query)
  if ('errors' in entry) return send(res, 400, { errors: entry.errors })
  const result = await execute({
    schema,
    document: entry.document,
    variableValues: body.variables,
    operationName: body.operationName,
    contextValue: { loaders: createConversationLoaders(sources) } satisfies Context,
  })
  send(res, 200, result)
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => send(res, 500, { errors: [{ message: String(err) }] }))
})
await new Promise<void>((resolve) => server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve))
process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })}\n`)

process.on('SIGTERM', () => {
  server.close()
  void database.close().finally(() => process.exit(0))
})
