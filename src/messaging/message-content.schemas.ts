import { z } from 'zod'
import { CAPTION_MAX, INTERACTIVE_LIMITS as L, MEDIA_KINDS, type MediaKind, TEXT_MAX } from '../meta/meta.limits.js'
import type { InteractiveContent, LocationContent } from '../meta/meta.outgoing.js'
import { documentAs } from '../validation.js'

/**
 * What a send request may carry besides its recipient: `type` (text by default) and that type's
 * fields. Meta's limits are checked here, so a request outside them is a 422 naming the field and
 * nothing is sent.
 */

export const MESSAGE_TYPES = ['text', ...MEDIA_KINDS, 'location', 'interactive', 'reaction'] as const
export type OutboundType = (typeof MESSAGE_TYPES)[number]

/** A send's content, checked: what the service stores and hands to Meta. */
export type ContentRequest = { replyTo: number | null } & (
  | { type: 'text'; content: string }
  | { type: MediaKind; mediaId: string | null; link: string | null; caption: string | null; filename: string | null }
  | { type: 'location'; location: LocationContent }
  | { type: 'interactive'; interactive: InteractiveContent }
  | { type: 'reaction'; emoji: string }
)

const stringError = (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : 'must be a string')

/**
 * A text of at most `max` characters, well-formed (a lone UTF-16 surrogate cannot be stored as JSON,
 * and Meta would garble it).
 */
const text = (max: number) =>
  z
    .string({ error: stringError })
    .refine((s) => s.trim().length > 0, 'must not be empty')
    // Characters as people (and Meta) count them: an emoji is one, not two UTF-16 units.
    .refine((s) => [...s].length <= max, `must be at most ${max} characters`)
    .refine((s) => !/\p{Cs}/u.test(s), 'must be valid Unicode text')

const optionalText = (max: number) => text(max).nullish()

const id = z
  .number({ error: 'must be a positive integer id' })
  .int('must be a positive integer id')
  .min(1, 'must be a positive integer id')
  .max(2_147_483_647, 'is too large for an id')

const coordinate = (limit: number) =>
  z
    .number({ error: 'must be a number' })
    .min(-limit, `must be between -${limit} and ${limit}`)
    .max(limit, `must be between -${limit} and ${limit}`)

const location = z.object(
  {
    latitude: coordinate(90),
    longitude: coordinate(180),
    name: optionalText(1000),
    address: optionalText(1000),
  },
  { error: 'must be an object with latitude and longitude' },
)

const button = z.object(
  { id: text(L.buttonId), title: text(L.buttonTitle) },
  { error: 'must be an object with id and title' },
)

const row = z.object(
  { id: text(L.rowId), title: text(L.rowTitle), description: optionalText(L.rowDescription) },
  { error: 'must be an object with id and title' },
)

const list = z.object(
  {
    button: text(L.listButton),
    sections: z
      .array(
        z.object(
          {
            title: optionalText(L.sectionTitle),
            rows: z.array(row, { error: 'must be an array' }).min(1, 'must have at least one row'),
          },
          { error: 'must be an object with rows' },
        ),
        { error: 'must be an array' },
      )
      .min(1, 'must have at least one section')
      .max(L.sections, `must have at most ${L.sections} sections`),
  },
  { error: 'must be an object with button and sections' },
)

/** An emoji (one grapheme that is a pictograph, a flag or a keycap such as 1️⃣), or '' to remove a reaction. */
const emoji = z
  .string({ error: stringError })
  .refine(
    (s) =>
      s === '' ||
      ([...new Intl.Segmenter().segment(s)].length === 1 &&
        /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u.test(s)),
    'must be a single emoji, or "" to remove the reaction',
  )

const link = z
  .url({ protocol: /^https$/, error: 'must be a public https URL' })
  .max(2000, 'must be at most 2000 characters')

const fields = {
  type: z
    .preprocess(
      (v) => (typeof v === 'string' ? v.toLowerCase() : (v ?? undefined)),
      z.enum(MESSAGE_TYPES, { error: `must be one of ${MESSAGE_TYPES.join(', ')}` }),
    )
    .default('text'),
  content: z.unknown().optional(),
  mediaId: z.string({ error: 'must be a string' }).max(100).nullish(),
  link: link.nullish(),
  caption: optionalText(CAPTION_MAX),
  filename: optionalText(240),
  location: location.nullish(),
  header: optionalText(L.header),
  footer: optionalText(L.footer),
  buttons: z
    .array(button, { error: 'must be an array' })
    .min(1, 'must have at least one button')
    .max(L.buttons, `must have at most ${L.buttons} buttons`)
    .nullish(),
  list: list.nullish(),
  replyTo: id.nullish(),
  emoji: emoji.nullish(),
}

type Fields = { [K in keyof typeof fields]: z.output<(typeof fields)[K]> }

/** Which optional fields each type uses; any other one given is refused (Meta would refuse it too). */
const USES: Record<OutboundType, (keyof Fields)[]> = {
  text: ['content'],
  image: ['mediaId', 'link', 'caption'],
  video: ['mediaId', 'link', 'caption'],
  document: ['mediaId', 'link', 'caption', 'filename'],
  audio: ['mediaId', 'link'],
  sticker: ['mediaId', 'link'],
  location: ['location'],
  interactive: ['content', 'header', 'footer', 'buttons', 'list'],
  reaction: ['emoji'],
}
const OPTIONAL = [
  'content',
  'mediaId',
  'link',
  'caption',
  'filename',
  'location',
  'header',
  'footer',
  'buttons',
  'list',
  'emoji',
] as const

type Issue = { path: (string | number)[]; message: string }

/** Meta's rules across fields: one of two, unique ids, rows in all. */
function problemsOf(v: Fields): Issue[] {
  const issues: Issue[] = []
  const given = (key: keyof Fields) => v[key] !== undefined && v[key] !== null
  for (const key of OPTIONAL) {
    if (given(key) && !USES[v.type].includes(key)) {
      issues.push({ path: [key], message: `is not used by ${v.type} messages` })
    }
  }
  const required = (key: keyof Fields, why = 'is required') => {
    if (!given(key)) issues.push({ path: [key], message: `${why} for ${v.type} messages` })
  }
  switch (v.type) {
    case 'text':
      break // `content` is checked with the text rules below
    case 'location':
      required('location')
      break
    case 'reaction':
      required('replyTo', 'is required (the message to react to)')
      required('emoji')
      break
    case 'interactive': {
      if (given('buttons') === given('list')) {
        issues.push({ path: ['buttons'], message: 'give either buttons or list for interactive messages' })
      }
      const duplicate = (values: string[]) => values.find((x, i) => values.indexOf(x) !== i)
      if (v.buttons) {
        for (const key of ['id', 'title'] as const) {
          const dup = duplicate(v.buttons.map((b) => b[key]))
          if (dup !== undefined) issues.push({ path: ['buttons'], message: `button ${key}s must be unique (${dup})` })
        }
      }
      if (v.list) {
        const rows = v.list.sections.flatMap((s) => s.rows)
        if (rows.length > L.rows)
          issues.push({ path: ['list', 'sections'], message: `must have at most ${L.rows} rows in all` })
        const dup = duplicate(rows.map((r) => r.id))
        if (dup !== undefined) issues.push({ path: ['list', 'sections'], message: `row ids must be unique (${dup})` })
        if (v.list.sections.length > 1) {
          v.list.sections.forEach((s, i) => {
            if (!s.title)
              issues.push({
                path: ['list', 'sections', i, 'title'],
                message: 'is required when there are several sections',
              })
          })
        }
      }
      break
    }
    default:
      if (given('mediaId') === given('link')) {
        issues.push({ path: ['mediaId'], message: `give either mediaId or link for ${v.type} messages` })
      }
  }
  return issues
}

function toRequest(v: Fields, content: string | undefined): ContentRequest {
  const replyTo = v.replyTo ?? null
  switch (v.type) {
    case 'text':
      return { type: 'text', content: content!, replyTo }
    case 'location':
      return {
        type: 'location',
        location: { ...v.location!, name: v.location!.name ?? null, address: v.location!.address ?? null },
        replyTo,
      }
    case 'interactive':
      return {
        type: 'interactive',
        replyTo,
        interactive: {
          type: v.buttons ? 'button' : 'list',
          header: v.header ?? null,
          body: content!,
          footer: v.footer ?? null,
          ...(v.buttons ? { buttons: v.buttons } : {}),
          ...(v.list
            ? {
                list: {
                  button: v.list.button,
                  sections: v.list.sections.map((s) => ({
                    title: s.title ?? null,
                    rows: s.rows.map((r) => ({ id: r.id, title: r.title, description: r.description ?? null })),
                  })),
                },
              }
            : {}),
        },
      }
    case 'reaction':
      return { type: 'reaction', emoji: v.emoji!, replyTo }
    default:
      return {
        type: v.type,
        mediaId: v.mediaId ?? null,
        link: v.link ?? null,
        caption: v.caption ?? null,
        filename: v.filename ?? null,
        replyTo,
      }
  }
}

/**
 * The text of a text message (4,096 characters; a lone UTF-16 surrogate is stored as U+FFFD, as it
 * always was) or the body of an interactive one (1,024; also stored as JSON, so well-formed).
 */
const textContent = z
  .string({ error: stringError })
  .refine((s) => s.trim().length > 0, 'must not be empty')
  .refine((s) => s.length <= TEXT_MAX, `must be at most ${TEXT_MAX} characters`)
const bodyContent = text(L.body)

const contentSchema = z.object(fields, { error: 'the body must be a JSON object' }).transform((v, ctx) => {
  const f = v as Fields
  let content: string | undefined
  if (f.type === 'text' || f.type === 'interactive') {
    const parsed = (f.type === 'text' ? textContent : bodyContent).safeParse(f.content)
    if (parsed.success) content = parsed.data
    else
      for (const issue of parsed.error.issues)
        ctx.addIssue({ code: 'custom', path: ['content'], message: issue.message })
  }
  for (const issue of problemsOf(f)) ctx.addIssue({ code: 'custom', ...issue })
  return ctx.issues.length ? z.NEVER : toRequest(f, content)
})

/**
 * The content fields as the OpenAPI document shows them: each says which types use it (from USES),
 * and `content` is the text it is checked as.
 */
const documentedFields = {
  ...Object.fromEntries(
    OPTIONAL.map((key) => [
      key,
      fields[key].describe(`For ${MESSAGE_TYPES.filter((t) => USES[t].includes(key)).join(', ')} messages`),
    ]),
  ),
  type: fields.type.describe('The kind of message; each takes the fields that say so'),
  content: textContent
    .optional()
    .describe(
      `The text (text messages, at most ${TEXT_MAX} characters; required) or the body (interactive, at most ` +
        `${L.body}; required)`,
    ),
  replyTo: fields.replyTo.describe('Our message id, to quote it; for reaction messages, the message reacted to'),
}

/**
 * `shape` (the recipient) plus a message's content fields, as `{ ...shape, message }`. Both parts
 * are checked whatever the other's outcome, so one answer names every invalid field.
 */
export function withContent<S extends z.ZodRawShape>(shape: S) {
  const recipient = z.object(shape, { error: 'the body must be a JSON object' })
  const schema = z.unknown().transform((input, ctx) => {
    const parts = [recipient.safeParse(input), contentSchema.safeParse(input)] as const
    const seen = new Set<string>()
    for (const part of parts) {
      for (const issue of part.error?.issues ?? []) {
        const key = `${issue.path.join('.')}\n${issue.message}`
        if (seen.has(key)) continue // "must be a JSON object" from both parts
        seen.add(key)
        ctx.addIssue({ code: 'custom', path: issue.path as (string | number)[], message: issue.message })
      }
    }
    if (!parts[0].success || !parts[1].success) return z.NEVER
    return { ...(parts[0].data as z.output<typeof recipient>), message: parts[1].data }
  })
  return documentAs(schema, recipient.extend(documentedFields))
}
