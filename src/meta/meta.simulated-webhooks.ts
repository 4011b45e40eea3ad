import { randomBytes } from 'node:crypto'
import { metaJson } from './meta.webhooks.js'

/**
 * Webhook bodies as Meta writes them (escaped non-ASCII and slashes): the simulator's statuses and
 * the development-only simulated inbound message.
 */
export const simulatedWebhook = {
  envelope(phoneNumberId: string, value: Record<string, unknown>): string {
    return metaJson({
      object: 'whatsapp_business_account',
      entry: [
        {
          id: 'SIMULATED_WABA',
          changes: [
            {
              field: 'messages',
              value: {
                messaging_product: 'whatsapp',
                metadata: { display_phone_number: '50200000000', phone_number_id: phoneNumberId },
                ...value,
              },
            },
          ],
        },
      ],
    })
  },
  status(wamid: string, to: string, status: string, phoneNumberId: string, callbackData?: string): string {
    const timestamp = String(Math.floor(Date.now() / 1000))
    const echo = callbackData ? { biz_opaque_callback_data: callbackData } : {}
    return this.envelope(phoneNumberId, { statuses: [{ id: wamid, status, timestamp, recipient_id: to, ...echo }] })
  },
  /** A customer's text message; returns the body and the message's wamid. */
  inbound(from: string, text: string, name: string | null, phoneNumberId: string): { body: string; wamid: string } {
    const wamid = `wamid.${Buffer.from(`SIM.IN.${from}.${randomBytes(9).toString('hex')}`).toString('base64')}`
    const timestamp = String(Math.floor(Date.now() / 1000))
    const body = this.envelope(phoneNumberId, {
      contacts: [{ ...(name ? { profile: { name } } : {}), wa_id: from }],
      messages: [{ from, id: wamid, timestamp, type: 'text', text: { body: text } }],
    })
    return { body, wamid }
  },
}
