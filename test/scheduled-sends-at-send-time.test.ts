/**
 * What depends on the time is checked when a scheduled send goes out, not when it was scheduled:
 * a template Meta paused or disabled meanwhile (its signed status webhook) fails the send with
 * Meta's reason and Meta is never called; the 24-hour window is the one open at send time.
 */
import { expect, it } from 'vitest'
import { until } from './helpers/child-app.js'
import { metaTemplate } from './helpers/fake-meta.js'
import { useTestApp } from './helpers/setup.js'
import { inboundText, postWebhook, templateStatus, webhookEnv } from './helpers/webhooks.js'

// Webhooks on: the service window is enforced.
const ctx = useTestApp({
  meta: {
    templates: [metaTemplate({ name: 'aviso' }), metaTemplate({ name: 'cita' }), metaTemplate({ name: 'pago' })],
  },
  env: webhookEnv,
})

const inMs = (ms: number) => new Date(Date.now() + ms).toISOString()
const row = (id: number) => ctx.t.app.database.prisma.scheduledSend.findUniqueOrThrow({ where: { id } })
const settled = (id: number) =>
  until(`scheduled send ${id} to settle`, async () => ['sent', 'failed'].includes((await row(id)).status), 15_000)
const templateNow = (name: string) =>
  ctx.t.app.database.prisma.template.findFirstOrThrow({ where: { name, language: 'es' } })

const scheduleTemplate = async (name: string, phoneNumber: string, sendAt: string) => {
  const res = await ctx.t.rest('POST', '/api/whatsapp/send-template', {
    templateName: name,
    languageCode: 'es',
    components: [{ type: 'body', parameters: [{ type: 'text', text: 'Ana' }] }],
    recipients: [{ phoneNumber }],
    sendAt,
  })
  expect(res.status).toBe(202)
  return res.body.data.scheduled_id as number
}

const metaSends = () => ctx.meta.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/messages'))

it('fails a send whose template Meta paused, with the reason, without calling Meta', async () => {
  const sendAt = inMs(2_000)
  const id = await scheduleTemplate('aviso', '+50255550101', sendAt)
  const before = metaSends().length
  const reason = 'Your WhatsApp message template has been paused for 3 hours because it had issues.'
  const res = await postWebhook(
    ctx.t,
    templateStatus('aviso', 'es', 'PAUSED', {
      reason: null,
      other_info: { title: 'FIRST_PAUSE', description: reason },
    }),
  )
  expect(res.status).toBe(200)
  await until('the pause to be applied', async () => (await templateNow('aviso')).status === 'PAUSED')
  // Failed at its time (a pause may be lifted before then), not when the webhook came.
  expect((await row(id)).status).toBe('scheduled')

  await settled(id)
  expect(await row(id)).toMatchObject({
    status: 'failed',
    errorCode: 'TEMPLATE_PAUSED',
    errorMessage: expect.stringContaining(reason),
    errorDetails: { templateName: 'aviso', language: 'es', reason },
    messageId: null,
    batchId: null,
  })
  expect((await row(id)).completedAt!.getTime()).toBeGreaterThanOrEqual(new Date(sendAt).getTime())
  expect(ctx.meta.sendsTo('50255550101')).toHaveLength(0)
  expect(metaSends()).toHaveLength(before)
  expect(await ctx.t.app.database.prisma.templateBatch.count({ where: { templateName: 'aviso' } })).toBe(0)

  const listed = await ctx.t.rest('GET', '/api/whatsapp/scheduled?status=failed')
  expect(listed.body.data.find((s: { scheduled_id: number }) => s.scheduled_id === id)).toMatchObject({
    status: 'failed',
    error: { code: 'TEMPLATE_PAUSED', reason },
  })
})

it('fails a send whose template Meta disabled, with its reason', async () => {
  const id = await scheduleTemplate('cita', '+50255550102', inMs(1_500))
  await postWebhook(ctx.t, templateStatus('cita', 'es', 'DISABLED', { reason: 'INCORRECT_CATEGORY' }))
  await until('the status to be applied', async () => (await templateNow('cita')).status === 'DISABLED')
  await settled(id)
  expect(await row(id)).toMatchObject({
    status: 'failed',
    errorCode: 'TEMPLATE_DISABLED',
    errorDetails: { reason: 'INCORRECT_CATEGORY' },
  })
  expect(ctx.meta.sendsTo('50255550102')).toHaveLength(0)
})

it('sends one whose template was paused and approved again before its time', async () => {
  const id = await scheduleTemplate('pago', '+50255550103', inMs(2_000))
  await postWebhook(ctx.t, templateStatus('pago', 'es', 'PAUSED'))
  await until('the pause', async () => (await templateNow('pago')).status === 'PAUSED')
  await postWebhook(ctx.t, templateStatus('pago', 'es', 'APPROVED'))
  await until('the approval', async () => (await templateNow('pago')).status === 'APPROVED')
  await settled(id)
  expect((await row(id)).status).toBe('sent')
  expect(ctx.meta.sendsTo('50255550103')).toHaveLength(1)
})

it('checks the 24-hour window when it sends, not when it was scheduled', async () => {
  // Scheduled while the customer never wrote (an immediate send would be WINDOW_CLOSED) …
  const opened = await ctx.t.rest('POST', '/api/whatsapp/send', {
    phoneNumber: '+50255550104',
    content: 'Gracias por escribir',
    sendAt: inMs(2_000),
  })
  const closed = await ctx.t.rest('POST', '/api/whatsapp/send', {
    phoneNumber: '+50255550105',
    content: 'Nadie escribió',
    sendAt: inMs(2_000),
  })
  expect([opened.status, closed.status]).toEqual([202, 202])
  // … and the first customer writes before its time.
  await postWebhook(ctx.t, inboundText({ from: '50255550104', wamid: 'wamid.SCHED1', text: 'Hola' }))
  await until(
    'the inbound message',
    async () => (await ctx.t.app.database.prisma.message.count({ where: { wamid: 'wamid.SCHED1' } })) === 1,
  )

  await settled(opened.body.data.scheduled_id)
  await settled(closed.body.data.scheduled_id)
  expect((await row(opened.body.data.scheduled_id)).status).toBe('sent')
  expect(ctx.meta.sendsTo('50255550104')).toHaveLength(1)
  expect(await row(closed.body.data.scheduled_id)).toMatchObject({ status: 'failed', errorCode: 'WINDOW_CLOSED' })
  expect(ctx.meta.sendsTo('50255550105')).toHaveLength(0)
})
