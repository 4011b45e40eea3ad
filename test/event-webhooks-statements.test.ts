/**
 * What event webhooks cost the database per inbound message (the benchmark's ingest with two
 * endpoints, one healthy and one that never answers): statements counted by kind while 100
 * messages are acknowledged, applied and delivered. Guards the counts against creeping back up.
 */
import { afterEach, expect, it } from 'vitest'
import {
  CreateWebhookEndpointDocument,
  DeleteWebhookEndpointDocument,
  WebhookEndpointsDocument,
} from './graphql/generated.js'
import { until } from './helpers/child-app.js'
import { useTestApp } from './helpers/setup.js'
import { WebhookReceiver } from './helpers/webhook-receiver.js'
import { inboundText, postWebhook, webhookEnv } from './helpers/webhooks.js'

const ctx = useTestApp({ env: { ...webhookEnv, WEBHOOK_OUT_TIMEOUT_MS: '10000', WEBHOOK_OUT_POLL_MS: '5000' } })
const receivers: WebhookReceiver[] = []

afterEach(async () => {
  const { body } = await ctx.t.gql(WebhookEndpointsDocument)
  for (const e of body.data?.webhookEndpoints ?? []) await ctx.t.gql(DeleteWebhookEndpointDocument, { id: e.id })
  await Promise.all(receivers.splice(0).map((r) => r.close()))
})

const kind = (sql: string) => {
  const s = sql.replace(/\s+/g, ' ')
  if (/INSERT INTO outbound_events/i.test(s)) return 'record'
  if (/UPDATE webhook_deliveries d SET attempts/i.test(s)) return 'claim'
  if (/min\(n\.at\)/i.test(s)) return 'nextDueAt'
  if (/webhook_deliveries/i.test(s)) return 'delivery other'
  if (/webhook_endpoints/i.test(s)) return 'endpoints'
  return 'ingest'
}

async function measure(endpoints: number, n: number, prefix: string) {
  const healthy = await WebhookReceiver.start()
  const dead = await WebhookReceiver.start()
  receivers.push(healthy, dead)
  dead.answer = () => 'hang'
  for (const r of [healthy, dead].slice(0, endpoints))
    await ctx.t.gql(CreateWebhookEndpointDocument, { input: { url: r.url, events: ['message.received'] } })
  const counts: Record<string, number> = {}
  const stop = ctx.t.app.database.onQuery((sql) => {
    const k = kind(sql)
    counts[k] = (counts[k] ?? 0) + 1
  })
  await Promise.all(
    Array.from({ length: n }, (_, i) =>
      postWebhook(ctx.t, inboundText({ from: `${prefix}${i % 20}`, wamid: `wamid.${prefix}.${i}`, text: `m${i}` })),
    ),
  )
  await ctx.t.app.webhooks.drained()
  if (endpoints) await until('delivered', () => healthy.received.length >= n, 20_000)
  await new Promise((r) => setTimeout(r, 300))
  stop()
  const per = Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, +(v / n).toFixed(2)]))
  console.log(`${endpoints} endpoints, statements per message:`, per)
  return counts
}

it('counts statements per inbound message with and without two endpoints', { timeout: 60_000 }, async () => {
  const none = await measure(0, 100, '5023300')
  const two = await measure(2, 100, '5023400')
  expect(none.record ?? 0).toBe(0)
  expect(two.record).toBeGreaterThan(0)
  // Per message the endpoints add a share of a recording, a claim and an outcome for the healthy
  // one (about 1.5 here); the dead one holds its slots and costs nothing per message.
  const added = (two.record ?? 0) + (two.claim ?? 0) + (two.nextDueAt ?? 0) + (two['delivery other'] ?? 0)
  expect(added / 100).toBeLessThan(3)
})
