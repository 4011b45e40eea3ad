import { z } from 'zod'
import { withContent } from './message-content.schemas.js'
import { idSchema as id } from '../shared/ids.js'
import { normalizePhoneNumber, PHONE_NUMBER_FORMAT, phoneNumberSchema } from '../shared/phone.js'
import { templateComponentSchema as templateComponent } from '../templates/template.schemas.js'
import { requiredString, stringError } from '../validation.js'

/** Default cap on recipients per template request (WHATSAPP_MAX_RECIPIENTS). */
export const MAX_RECIPIENTS = 1000

const requestId = id.nullish()

const body = { error: 'the body must be a JSON object' }

/** The business number a send goes from (its Meta phone number id); omitted: the default number. */
const from = z
  .string({ error: 'must be a phone number id (digits)' })
  .regex(/^\d{1,32}$/, 'must be a phone number id (digits)')
  .nullish()

/** A send to a number: its recipient and a message of any kind (see withContent). */
export const sendToNumberSchema = withContent({ phoneNumber: phoneNumberSchema, requestId, from })

/** A send in a conversation: a message of any kind. */
export const sendInConversationSchema = withContent({})

export const markReadSchema = z.object(
  {
    typing: z
      .boolean({ error: 'must be true or false' })
      .nullish()
      .transform((v) => v ?? false),
  },
  body,
)

/** Keeps the number as the client wrote it (results echo it) next to the digits we send to. */
const recipient = z.object({ phoneNumber: requiredString(), requestId }).transform((r, ctx) => {
  const to = normalizePhoneNumber(r.phoneNumber)
  if (to === null) {
    ctx.addIssue({
      code: 'custom',
      path: ['phoneNumber'],
      message: PHONE_NUMBER_FORMAT,
    })
    return z.NEVER
  }
  return { phoneNumber: r.phoneNumber, to, requestId: r.requestId ?? null }
})

/** A template request; at most `maxRecipients` recipients (WHATSAPP_MAX_RECIPIENTS). */
export const sendTemplateSchemaFor = (maxRecipients: number) =>
  z.object(
    {
      templateName: z
        .string({ error: stringError })
        .regex(/^[a-z0-9_]{1,512}$/, 'must be a template name: lowercase letters, digits and _'),
      languageCode: z
        .string({ error: stringError })
        .regex(/^[a-z]{2,3}(_[A-Z]{2}|_[A-Za-z]{4})?$/, 'must be a language code like es, en_US or es_MX'),
      components: z.array(templateComponent, { error: 'must be an array' }).max(20).default([]),
      from,
      recipients: z
        .array(recipient, { error: 'must be an array' })
        .min(1, 'must have at least one recipient')
        .max(maxRecipients, `must have at most ${maxRecipients} recipients`),
    },
    body,
  )
export const sendTemplateSchema = sendTemplateSchemaFor(MAX_RECIPIENTS)
export type SendTemplateInput = z.input<typeof sendTemplateSchema>
export type SendTemplateRequest = z.output<typeof sendTemplateSchema>
