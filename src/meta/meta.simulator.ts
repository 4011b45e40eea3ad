import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import {
  type AcceptedMessage,
  type MediaUpload,
  type MetaApi,
  metaRequests,
  type OutgoingTemplate,
  type SendOptions,
  type RemoteMediaInfo,
  type RemoteTemplate,
  toRemoteTemplate,
} from './meta.api.js'
import { MetaApiError } from './meta.errors.js'
import type { OutgoingMessage } from './meta.outgoing.js'
import { simulatedWebhook } from './meta.simulated-webhooks.js'
import { signWebhook } from './meta.webhooks.js'
import type { MetaSendMessageRequest, MetaTemplate } from './meta.types.js'

/** Realistic approved templates for a field-service business in Guatemala. */
export const SIMULATED_TEMPLATES: MetaTemplate[] = [
  {
    id: '900000000000001',
    name: 'appointment_reminder',
    language: 'es',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [
      {
        type: 'BODY',
        text: 'Hola {{1}}, te recordamos tu cita para el {{2}}.',
        example: { body_text: [['Ana', 'martes 10:00']] },
      },
      { type: 'FOOTER', text: 'Servicios Profesionales' },
    ],
  },
  {
    id: '900000000000002',
    name: 'service_confirmation',
    language: 'es',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'TEXT', text: '{{1}}', example: { header_text: ['Confirmación de Servicio'] } },
      {
        type: 'BODY',
        text: 'Hola {{1}}, confirmamos tu solicitud {{2}} para el {{3}}.',
        example: { body_text: [['Ana', 'SR-2024-001', '15 de marzo, 10:00 AM']] },
      },
      {
        type: 'BUTTONS',
        buttons: [
          {
            type: 'URL',
            text: 'Ver solicitud',
            url: 'https://example.gt/sr/{{1}}',
            example: ['https://example.gt/sr/SR-1'],
          },
          { type: 'QUICK_REPLY', text: 'Confirmar' },
        ],
      },
    ],
  },
  {
    id: '900000000000003',
    name: 'technician_on_the_way',
    language: 'es',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: '{{1}}, su técnico {{2}} va en camino y llegará en {{3}} minutos.' }],
  },
  {
    id: '900000000000004',
    name: 'appointment_reminder',
    language: 'en_US',
    status: 'APPROVED',
    category: 'UTILITY',
    parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Hi {{1}}, this is a reminder of your appointment on {{2}}.' }],
  },
]

/**
 * An in-process stand-in for Meta, for development without a Meta account: accepts sends with
 * `wamid.` ids and serves {@link SIMULATED_TEMPLATES}. Refused in production by the configuration.
 */
export interface MetaSimulatorOptions {
  phoneNumberId: string
  /** Where and how to post status webhooks; without it the simulator posts none. */
  webhooks?: { url: () => string | null; appSecret: string; delayMs: number }
}

export class MetaSimulator implements MetaApi {
  constructor(private readonly options: MetaSimulatorOptions) {}

  /** Every message the simulator accepted, oldest first. */
  readonly sent: MetaSendMessageRequest[] = []

  async sendTemplate(to: string, template: OutgoingTemplate, options?: SendOptions): Promise<AcceptedMessage> {
    if (!SIMULATED_TEMPLATES.some((t) => t.name === template.name && t.language === template.language)) {
      throw new MetaApiError(
        {
          message: '(#132001) Template name does not exist in the translation',
          type: 'OAuthException',
          code: 132001,
          error_data: {
            messaging_product: 'whatsapp',
            details: `template name (${template.name}) does not exist in ${template.language}`,
          },
          fbtrace_id: `SIM${randomBytes(8).toString('hex')}`,
        },
        404,
      )
    }
    return this.accept(metaRequests.template(to, template, options), options)
  }

  async listTemplates(): Promise<RemoteTemplate[]> {
    return SIMULATED_TEMPLATES.map((t) => toRemoteTemplate(structuredClone(t)))
  }

  async sendMessage(to: string, message: OutgoingMessage, options?: SendOptions): Promise<AcceptedMessage> {
    return this.accept(metaRequests.message(to, message, options), options)
  }

  /** Takes the file (read to its end, then forgotten) and names it as Meta would. */
  async uploadMedia(file: MediaUpload): Promise<string> {
    for await (const _ of file.stream);
    return String(1_000_000_000_000_000 + Math.floor(Math.random() * 1e15))
  }

  /** The simulator sends no customer media, so it knows none. */
  async mediaInfo(mediaId: string): Promise<RemoteMediaInfo> {
    throw simulatorError(100, `Unsupported get request. Object with ID '${mediaId}' does not exist`, 400)
  }

  async downloadMedia(url: string): Promise<Readable> {
    throw simulatorError(100, `The simulator serves no media (${url})`, 404)
  }

  async markRead(): Promise<void> {}

  private accept(request: MetaSendMessageRequest, options?: SendOptions): AcceptedMessage {
    options?.onWritten?.()
    this.sent.push(request)
    const wamid = `wamid.${Buffer.from(`SIM.${request.to}.${randomBytes(9).toString('hex')}`).toString('base64')}`
    this.reportStatuses(wamid, request.to, request.biz_opaque_callback_data)
    return { wamid, recipient: { waId: request.to ?? null, userId: null } }
  }

  /** Like Meta: a signed `delivered` and then `read` webhook for each accepted message. */
  private reportStatuses(wamid: string, to: string, callbackData: string | undefined): void {
    const { webhooks } = this.options
    if (!webhooks) return
    const post = (status: 'delivered' | 'read') => {
      const url = webhooks.url()
      if (!url) return
      const body = simulatedWebhook.status(wamid, to, status, this.options.phoneNumberId, callbackData)
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hub-signature-256': signWebhook(body, webhooks.appSecret) },
        body,
      }).catch(() => {}) // the app may be shutting down; Meta would retry, we need not
    }
    setTimeout(post, webhooks.delayMs, 'delivered').unref()
    setTimeout(post, webhooks.delayMs * 2, 'read').unref()
  }
}

function simulatorError(code: number, message: string, status: number): MetaApiError {
  return new MetaApiError(
    { message, type: 'GraphMethodException', code, fbtrace_id: `SIM${randomBytes(8).toString('hex')}` },
    status,
  )
}
