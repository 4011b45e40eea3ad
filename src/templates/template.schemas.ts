import { z } from 'zod'
import { requiredString } from '../validation.js'

/** The components of a template send (its parameters), as clients write them; Meta's own shape. */
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

export const templateComponentSchema = z.discriminatedUnion(
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
export type TemplateComponentInput = z.output<typeof templateComponentSchema>
