import type DataLoader from 'dataloader'
import type { ContainerType } from 'type-graphql'
import type { Principal } from '../auth/principal.js'
import type { BatchProgress } from '../batches/batch.repository.js'
import type { ConversationLoaders } from '../conversations/conversation.loaders.js'
import type { EventBus } from '../events/event-bus.js'
import type { ResponseCacheState } from './response-cache.js'

/** Per-request context. `container` hands type-graphql the resolver instances of this app. */
export interface GraphQLContext {
  container: ContainerType
  events: EventBus
  loaders: ConversationLoaders
  /** Progress counts of template batches, batched per request. */
  batchProgress: DataLoader<number, BatchProgress>
  /** Whose request this is (a digest of the API token), for idempotency keys. */
  caller: string
  /** Who is calling: the key's name, scope and numbers. */
  principal: Principal
  /** What the response cache notes about this request (absent when it is off, or for a GET). */
  responseCache?: ResponseCacheState
}
