import { Prisma } from '../generated/prisma/client.js'

/**
 * The one definition of the order a message's status moves in: each state only moves to a later
 * one, whatever order Meta's webhooks and answers arrive in, and `failed` is final. `pending` and
 * `unknown` come before Meta's answer (`unknown`: the call was made, its answer never came).
 */
export const MESSAGE_STATUSES = ['pending', 'unknown', 'sent', 'delivered', 'read', 'failed'] as const

export type MessageStatus = (typeof MESSAGE_STATUSES)[number]

/** The statuses a Meta webhook reports. */
export type DeliveredStatus = Exclude<MessageStatus, 'pending' | 'unknown'>

export const statusRank = (status: MessageStatus): number => MESSAGE_STATUSES.indexOf(status)

/** Statuses a message has before Meta's answer is recorded: a send's outcome may still land on them. */
export const BEFORE_ANSWER = ['pending', 'unknown'] as const satisfies MessageStatus[]

/** The statuses that come before `status`: those a message may move to `status` from. */
export const statusesBefore = (status: MessageStatus): MessageStatus[] => MESSAGE_STATUSES.slice(0, statusRank(status))

/** `column`'s rank in SQL, from the same list (for statements that compare statuses in the database). */
export const statusRankSql = (column: Prisma.Sql): Prisma.Sql =>
  Prisma.sql`(CASE ${column}::text ${Prisma.raw(
    MESSAGE_STATUSES.map((status, rank) => `WHEN '${status}' THEN ${rank}`).join(' '),
  )} END)`
