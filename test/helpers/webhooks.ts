/**
 * Webhook deliveries shaped like Meta's (copied from Meta's documentation), serialised the way
 * Meta sends them: non-ASCII as \u00f3 escapes and `/` as `\/`, then signed over those bytes.
 */
import { metaJson, signWebhook } from '../../src/meta/meta.webhooks.js'
import type { TestApp } from './test-app.js'

export const APP_SECRET = 'test-app-secret-0123456789'
export const PREVIOUS_APP_SECRET = 'old-app-secret-0123456789'
export const VERIFY_TOKEN = 'verify-me-0123456789'
export const PHONE_NUMBER_ID = '106540352242922'

export { metaJson }

const envelope = (value: Record<string, unknown>, field = 'messages') => ({
  object: 'whatsapp_business_account',
  entry: [
    {
      id: '102290129340398',
      changes: [
        {
          field,
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: '50222223333', phone_number_id: PHONE_NUMBER_ID },
            ...value,
          },
        },
      ],
    },
  ],
})

const seconds = (date: Date) => String(Math.floor(date.getTime() / 1000))

export function inboundText(opts: {
  from: string
  wamid: string
  text: string
  name?: string
  at?: Date
  userId?: string
}) {
  return envelope({
    contacts: [
      {
        ...(opts.name === undefined ? {} : { profile: { name: opts.name } }),
        wa_id: opts.from,
        ...(opts.userId ? { user_id: opts.userId } : {}),
      },
    ],
    messages: [
      {
        from: opts.from,
        ...(opts.userId ? { from_user_id: opts.userId } : {}),
        id: opts.wamid,
        timestamp: seconds(opts.at ?? new Date()),
        type: 'text',
        text: { body: opts.text },
      },
    ],
  })
}

export function inboundMessage(from: string, message: Record<string, unknown>, at = new Date()) {
  return envelope({
    contacts: [{ profile: { name: 'Ana López' }, wa_id: from }],
    messages: [{ from, timestamp: seconds(at), ...message }],
  })
}

export function statusUpdate(opts: {
  wamid: string
  status: string
  to?: string
  at?: Date
  errorCode?: number
  /** The `biz_opaque_callback_data` of the send, echoed by Meta. */
  callbackData?: string
}) {
  return envelope({
    statuses: [
      {
        id: opts.wamid,
        status: opts.status,
        timestamp: seconds(opts.at ?? new Date()),
        recipient_id: opts.to ?? '50212345678',
        ...(opts.callbackData ? { biz_opaque_callback_data: opts.callbackData } : {}),
        ...(opts.status === 'failed'
          ? {
              errors: [
                {
                  code: opts.errorCode ?? 131047,
                  title: 'Re-engagement message',
                  message: 'Re-engagement message',
                  error_data: {
                    details:
                      'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
                  },
                  href: 'https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/',
                },
              ],
            }
          : {
              conversation: { id: 'CONV1', origin: { type: 'utility' } },
              pricing: { billable: true, pricing_model: 'PMP', category: 'utility', type: 'regular' },
            }),
      },
    ],
  })
}

/** `extra`: Meta's other fields of the change, e.g. `reason` or a pause's `other_info`. */
export function templateStatus(name: string, language: string, event: string, extra: Record<string, unknown> = {}) {
  return envelope(
    {
      event,
      message_template_id: 1252715608684590,
      message_template_name: name,
      message_template_language: language,
      reason: 'NONE',
      message_template_category: 'UTILITY',
      ...extra,
    },
    'message_template_status_update',
  )
}

/** Posts a delivery signed with `secret` (or with an explicit signature header, or none). */
export function postWebhook(
  t: TestApp,
  payload: unknown,
  options: { secret?: string; signature?: string | null; raw?: string } = {},
) {
  const body = options.raw ?? metaJson(payload)
  const signature =
    options.signature === undefined ? signWebhook(body, options.secret ?? APP_SECRET) : options.signature
  return fetch(`${t.url}/webhooks/whatsapp`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(signature === null ? {} : { 'x-hub-signature-256': signature }),
    },
    body,
  })
}

export const webhookEnv = {
  WHATSAPP_APP_SECRET: `${APP_SECRET},${PREVIOUS_APP_SECRET}`,
  WHATSAPP_WEBHOOK_VERIFY_TOKEN: VERIFY_TOKEN,
}
