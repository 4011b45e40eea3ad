import { z } from 'zod'
import { cursorSchema, firstSchema } from '../shared/pagination.js'
import { idSchema } from '../shared/ids.js'
import { SCHEDULED_SEND_STATUSES, type ScheduledSendStatus } from './scheduled-send.repository.js'

/** How far ahead a send may be scheduled. */
export const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * 3600 * 1000

const EXAMPLE = 'e.g. 2026-03-03T10:30:00-06:00'

/**
 * `sendAt`'s form: ISO 8601 with an offset (a local time would be read in the server's zone, which
 * the caller cannot know). When it may be is {@link sendAtProblem}'s.
 */
export const sendAtSchema = z
  .string({ error: (issue) => (issue.input === undefined ? 'is required' : `must be a string, ${EXAMPLE}`) })
  .transform((value, ctx) => {
    if (z.iso.datetime({ offset: true }).safeParse(value).success) return new Date(value)
    const local = z.iso.datetime({ local: true }).safeParse(value).success
    ctx.addIssue({
      code: 'custom',
      message: local
        ? `must include a UTC offset (Z or ±hh:mm), ${EXAMPLE}`
        : `must be an ISO 8601 date and time with an offset, ${EXAMPLE}`,
    })
    return z.NEVER
  })

/** Why `at` cannot be scheduled `now` (in the past, more than 30 days ahead), or null. */
export function sendAtProblem(at: Date, now: Date): string | null {
  if (at.getTime() <= now.getTime()) return 'must be in the future'
  if (at.getTime() > now.getTime() + MAX_SCHEDULE_AHEAD_MS) return 'must be at most 30 days ahead'
  return null
}

/** The statuses a list shows: `pending` (scheduled and sending, the default), `all`, or one status. */
const statusFilter = z
  .enum(['pending', 'all', ...SCHEDULED_SEND_STATUSES], {
    error: `must be pending, all, or one of ${SCHEDULED_SEND_STATUSES.join(', ')}`,
  })
  .nullish()
  .transform((s): ScheduledSendStatus[] =>
    !s || s === 'pending' ? ['scheduled', 'sending'] : s === 'all' ? [...SCHEDULED_SEND_STATUSES] : [s],
  )

const statusList = z
  .array(z.enum(SCHEDULED_SEND_STATUSES))
  .transform((list) => (list.length ? [...new Set(list)] : (['scheduled', 'sending'] as ScheduledSendStatus[])))

export const listSchema = z.object({
  first: firstSchema,
  after: cursorSchema(z.tuple([z.iso.datetime(), idSchema])),
  // REST: one word; GraphQL: a list of statuses.
  status: z.unknown().transform((value, ctx) => {
    const parsed = Array.isArray(value) ? statusList.safeParse(value) : statusFilter.safeParse(value)
    if (parsed.success) return parsed.data
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message })
    return z.NEVER
  }),
})

export { idSchema }
