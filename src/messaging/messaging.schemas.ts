import { z } from 'zod'
import { withContent } from './message-content.schemas.js'
import { normalizePhoneNumber } from './phone.js'

/** Default cap on recipients per template request (WHATSAPP_MAX_RECIPIENTS). */
export const MAX_RECIPIENTS = 1000
const INT32_MAX = 2_147_483_647

/** "is required" when missing, "must be a string" when of another type. */
const stringError = (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : 'must be a string')
const requiredString = () => z.string({ error: stringError })

/** A database id (PostgreSQL `integer`); path parameters arrive as digit strings. */
const id = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z
    .number({ error: 'must be a positive integer id' })
    .int('must be a positive integer id')
    .min(1, 'must be a positive integer id')
    .max(INT32_MAX, 'is too large for an id'),
)

export const phoneNumberSchema = z.string({ error: stringError }).transform((value, ctx) => {
  const digits = normalizePhoneNumber(value)
  if (digits === null) {
    ctx.addIssue({
      code: 'custom',
      message: 'must be a phone number in international format, e.g. +50212345678',
    })
    return z.NEVER
  }
  return digits
})

const requestId = id.nullish()

export const conversationIdSchema = id

const body = { error: 'the body must be a JSON object' }

/** A send to a number: its recipient and a message of any kind (see withContent). */
export const sendToNumberSchema = withContent({ phoneNumber: phoneNumberSchema, requestId })

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

const link = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' })

const templateParameter = z.discriminatedUnion(
  'type',
  [
    z.object({
      type: z.literal('text'),
      text: requiredString().min(1, 'must not be empty').max(1024),
      parameter_name: z
        .string()
        .regex(/^[a-z0-9_]+$/, 'must be lowercase letters, digits and _')
        .optional(),
    }),
    z.object({ type: z.literal('payload'), payload: requiredString().min(1).max(1000) }),
    z.object({ type: z.literal('image'), image: z.object({ link }) }),
    z.object({ type: z.literal('video'), video: z.object({ link }) }),
    z.object({ type: z.literal('document'), document: z.object({ link, filename: z.string().max(240).optional() }) }),
  ],
  { error: 'must be one of text, payload, image, video, document' },
)

const parameters = z.array(templateParameter, { error: 'must be an array' }).max(100)

const templateComponent = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('header'), parameters }),
    z.object({ type: z.literal('body'), parameters }),
    z.object({
      type: z.literal('button'),
      sub_type: z.enum(['url', 'quick_reply', 'copy_code', 'flow'], {
        error: 'must be one of url, quick_reply, copy_code, flow',
      }),
      // Meta takes the index as a string or a number; we send a string.
      index: z
        .union([z.string().regex(/^\d$/), z.number().int().min(0).max(9)], {
          error: 'must be a button index from 0 to 9',
        })
        .transform(String),
      parameters,
    }),
  ],
  { error: 'must be one of header, body, button' },
)
export type TemplateComponentInput = z.output<typeof templateComponent>

/** Keeps the number as the client wrote it (results echo it) next to the digits we send to. */
const recipient = z.object({ phoneNumber: requiredString(), requestId }).transform((r, ctx) => {
  const to = normalizePhoneNumber(r.phoneNumber)
  if (to === null) {
    ctx.addIssue({
      code: 'custom',
      path: ['phoneNumber'],
      message: 'must be a phone number in international format, e.g. +50212345678',
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
