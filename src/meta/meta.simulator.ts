import { randomBytes } from 'node:crypto'
import {
  type AcceptedMessage,
  type MetaApi,
  metaRequests,
  type OutgoingTemplate,
  type RemoteTemplate,
  toRemoteTemplate,
} from './meta.client.js'
import { MetaApiError } from './meta.errors.js'
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
export class MetaSimulator implements MetaApi {
  /** Every message the simulator accepted, oldest first. */
  readonly sent: MetaSendMessageRequest[] = []

  async sendText(to: string, body: string): Promise<AcceptedMessage> {
    return this.accept(metaRequests.text(to, body))
  }

  async sendTemplate(to: string, template: OutgoingTemplate): Promise<AcceptedMessage> {
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
    return this.accept(metaRequests.template(to, template))
  }

  async listTemplates(): Promise<RemoteTemplate[]> {
    return SIMULATED_TEMPLATES.map((t) => toRemoteTemplate(structuredClone(t)))
  }

  private accept(request: MetaSendMessageRequest): AcceptedMessage {
    this.sent.push(request)
    return { wamid: `wamid.${Buffer.from(`SIM.${request.to}.${randomBytes(9).toString('hex')}`).toString('base64')}` }
  }
}
