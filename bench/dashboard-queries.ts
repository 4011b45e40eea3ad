/**
 * The dashboard benchmark's questions (bench/dashboard.ts): the service's four reads as a dashboard
 * sends them, PostGraphile's equivalents, and each side's answer reduced to the ids it names (so
 * the benchmark can check both ask for the same rows).
 */
import { DASHBOARD_SEED } from './dashboard-shape.js'
import { API_TOKEN } from './lib.js'

export const FILTER = { search: DASHBOARD_SEED.searchWord, status: 'DELIVERED' }

// The service's queries, as a dashboard sends them.
export const SERVICE_QUERIES = {
  LIST: `query Conversations { conversations(first: 20) { edges { node { id phoneNumber lastMessage { id content status createdAt } } } } }`,
  FILTERED: `query Filtered($search: String!, $status: MessageStatus!) { conversations(first: 20, filter: { search: $search, lastMessageStatus: $status }) { edges { node { id phoneNumber lastMessage { id content status createdAt } messages(first: 3) { edges { node { id content status createdAt } } } } } } }`,
  THREAD: `query Thread($id: Int!, $after: String) { conversation(id: $id) { id messages(first: 50, after: $after) { edges { cursor node { id direction type content status createdAt sentAt deliveredAt readAt failedAt error { code message } replyToMessageId location { latitude longitude name address } interactive { type body header footer buttons { id title } id title } media { id status mimeType size filename caption url voice } reactions { emoji by } } } pageInfo { hasNextPage endCursor } } } }`,
}

// PostGraphile's equivalents: the same rows and, where PostGraphile has them, the same fields (it
// has the JSON columns location and interactive whole, the media row by its foreign key, and no
// url/caption/voice, which the service derives from the message).
export const POSTGRAPHILE_QUERIES = {
  LIST: `query Conversations { dashboardConversations(first: 20) { edges { node { id phoneNumber messageByLastMessageId { id content status createdAt } } } } }`,
  FILTERED: `query Filtered($search: String!, $status: MessageStatus!) { dashboardConversationsFiltered(search: $search, status: $status, first: 20) { edges { node { id phoneNumber messageByLastMessageId { id content status createdAt } bubbles(first: 3) { edges { node { id content status createdAt } } } } } } }`,
  THREAD: `query Thread($id: Int!, $after: Cursor) { conversationById(id: $id) { id bubbles(first: 50, after: $after, orderBy: ID_DESC) { edges { cursor node { id direction type content status createdAt sentAt deliveredAt readAt failedAt errorCode errorMessage replyToMessageId location interactive mediaByMediaId { id status mimeType size filename } reactions { nodes { emoji actor } } } } pageInfo { hasNextPage endCursor } } } }`,
}

export type Json = Record<string, unknown>
export async function gql(url: string, query: string, variables: Json = {}): Promise<Json> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  })
  const body = (await res.json()) as { data?: Json; errors?: unknown }
  if (res.status !== 200 || !body.data || body.errors) {
    throw new Error(`GraphQL answer from ${url}: ${res.status} ${JSON.stringify(body).slice(0, 600)}`)
  }
  return body.data
}

// Either side's answer, reduced to the ids it names (to check both ask for the same rows).
type Edges<T> = { edges: { node: T; cursor?: string }[]; pageInfo?: { hasNextPage: boolean; endCursor: string | null } }
type AnyMessage = Json & {
  id: number
  reactions?: unknown
  media?: { id: string } | null
  mediaByMediaId?: { id: string } | null
}
export function conversationIds(data: Json): string {
  const page = (data.conversations ?? data.dashboardConversations ?? data.dashboardConversationsFiltered) as Edges<Json>
  return page.edges
    .map(({ node }) => {
      const last = (node.lastMessage ?? node.messageByLastMessageId) as { id: number } | null
      const messages = (node.messages ?? node.bubbles) as Edges<{ id: number }> | undefined
      return `${node.id}(last:${last?.id}${messages ? `;${messages.edges.map((e) => e.node.id).join(',')}` : ''})`
    })
    .join(' ')
}
export function threadIds(data: Json): string {
  const conversation = (data.conversation ?? data.conversationById) as Json
  const page = (conversation.messages ?? conversation.bubbles) as Edges<AnyMessage>
  return page.edges
    .map(({ node }) => {
      const reactions = Array.isArray(node.reactions)
        ? node.reactions.length
        : ((node.reactions as { nodes: unknown[] }).nodes.length ?? 0)
      const media = (node.media ?? node.mediaByMediaId)?.id
      return `${node.id}${reactions ? `+${reactions}r` : ''}${media ? `+${media}` : ''}`
    })
    .join(' ')
}
export function endCursorOf(data: Json): string {
  const conversation = (data.conversation ?? data.conversationById) as Json
  return ((conversation.messages ?? conversation.bubbles) as Edges<unknown>).pageInfo!.endCursor!
}
export function diff(a: string, b: string): string {
  const as = a.split(' ')
  const bs = b.split(' ')
  const onlyA = as.filter((x) => !bs.includes(x))
  const onlyB = bs.filter((x) => !as.includes(x))
  return `only the service: ${onlyA.join(' ') || '—'}; only PostGraphile: ${onlyB.join(' ') || '—'}${
    !onlyA.length && !onlyB.length ? ' (order differs)' : ''
  }`
}
