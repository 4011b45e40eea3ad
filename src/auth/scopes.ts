import { ForbiddenError } from '../errors/errors.js'
import { covers, type Principal, type Scope } from './principal.js'

/**
 * Every operation's scope, in one place (OWASP API5, function-level authorization). READ: queries,
 * subscriptions, media downloads, REST GETs. SEND: every send, upload and read receipt. ADMIN: keys,
 * webhook endpoints and deliveries, and whatever else configures the service. Start-up fails when a
 * GraphQL root field or a registered route has no decision here, so a new operation cannot forget one.
 */
export const GRAPHQL_SCOPES = {
  Query: {
    conversation: 'READ',
    conversations: 'READ',
    message: 'READ',
    messageByWamid: 'READ',
    scheduledSend: 'READ',
    scheduledSends: 'READ',
    templateBatch: 'READ',
    templateBatches: 'READ',
    // With refresh: true it syncs from Meta first: still a read (as REST GET /templates, which always does).
    templates: 'READ',
    webhookEndpoints: 'ADMIN',
    webhookDeliveries: 'ADMIN',
    apiKeys: 'ADMIN',
    businessNumbers: 'ADMIN',
  },
  Mutation: {
    sendText: 'SEND',
    sendMessage: 'SEND',
    sendInConversation: 'SEND',
    sendTemplate: 'SEND',
    scheduleText: 'SEND',
    scheduleMessage: 'SEND',
    scheduleInConversation: 'SEND',
    scheduleTemplate: 'SEND',
    // Cancelling a send is part of sending.
    cancelScheduledSend: 'SEND',
    markConversationRead: 'SEND',
    // Development only: plays Meta delivering a customer's message, which is not a client's to do.
    simulateInboundMessage: 'ADMIN',
    createWebhookEndpoint: 'ADMIN',
    updateWebhookEndpoint: 'ADMIN',
    disableWebhookEndpoint: 'ADMIN',
    deleteWebhookEndpoint: 'ADMIN',
    retryWebhookDelivery: 'ADMIN',
    resendWebhookEvent: 'ADMIN',
    createApiKey: 'ADMIN',
    revokeApiKey: 'ADMIN',
    addBusinessNumber: 'ADMIN',
  },
  Subscription: {
    messageAdded: 'READ',
    messageStatusChanged: 'READ',
    messageUpdated: 'READ',
  },
} as const satisfies Record<'Query' | 'Mutation' | 'Subscription', Record<string, Scope>>

export type RootType = keyof typeof GRAPHQL_SCOPES

/**
 * Every route of the HTTP server, `METHOD path` as Fastify registers it (HEAD goes with GET; a
 * trailing `*` matches what follows). PUBLIC: no key at all (health checks, Meta's webhooks, the
 * API's description). GRAPHQL: decided per root field, above.
 */
export const REST_SCOPES: Record<string, Scope | 'PUBLIC' | 'GRAPHQL'> = {
  'GET /healthz': 'PUBLIC',
  'GET /readyz': 'PUBLIC',
  'GET /graphql': 'GRAPHQL',
  'POST /graphql': 'GRAPHQL',
  'OPTIONS /graphql': 'GRAPHQL',
  // CORS preflights carry no key.
  'OPTIONS *': 'PUBLIC',
  // Meta's webhooks: signed by Meta (verification token, app secret), not by a key.
  'GET /webhooks/whatsapp': 'PUBLIC',
  'POST /webhooks/whatsapp': 'PUBLIC',
  'GET /api/whatsapp/openapi.json': 'PUBLIC',
  // The API's browsable description (development only).
  'GET /api/whatsapp/docs*': 'PUBLIC',
  'POST /api/whatsapp/send': 'SEND',
  'POST /api/whatsapp/send-template': 'SEND',
  'POST /api/whatsapp/conversations/:id/messages': 'SEND',
  'POST /api/whatsapp/conversations/:id/read': 'SEND',
  'POST /api/whatsapp/media': 'SEND',
  'DELETE /api/whatsapp/scheduled/:id': 'SEND',
  'GET /api/whatsapp/conversations': 'READ',
  'GET /api/whatsapp/conversations/:id/messages': 'READ',
  'GET /api/whatsapp/scheduled': 'READ',
  'GET /api/whatsapp/media/:mediaId': 'READ',
  'GET /api/whatsapp/templates': 'READ',
}

/** The decision for a route, or undefined when it has none. */
export function restScope(method: string, url: string): Scope | 'PUBLIC' | 'GRAPHQL' | undefined {
  const path = url.length > 1 ? url.replace(/\/$/, '') : url
  const key = `${method === 'HEAD' ? 'GET' : method} ${path}`
  if (key in REST_SCOPES) return REST_SCOPES[key]
  for (const [pattern, scope] of Object.entries(REST_SCOPES))
    if (pattern.endsWith('*') && key.startsWith(pattern.slice(0, -1))) return scope
  return undefined
}

/** The decision for a GraphQL root field, or undefined when it has none. */
export function graphqlScope(root: RootType, field: string): Scope | undefined {
  return (GRAPHQL_SCOPES[root] as Record<string, Scope>)[field]
}

/** @throws ForbiddenError when `principal` may not do what `needed` covers. */
export function requireScope(principal: Principal, needed: Scope, what: string): void {
  if (covers(principal.scope, needed)) return
  throw new ForbiddenError(`This key's scope is ${principal.scope}: ${what} needs ${needed}`)
}
