import type { NumberScope } from '../auth/principal.js'
import type { PrismaClient } from '../db/database.js'
import { Prisma } from '../generated/prisma/client.js'

export const SCHEDULED_SEND_STATUSES = ['scheduled', 'sending', 'sent', 'failed', 'cancelled'] as const
export type ScheduledSendStatus = (typeof SCHEDULED_SEND_STATUSES)[number]

/** The service operation a scheduled send replays. */
export type ScheduledSendKind = 'sendText' | 'sendInConversation' | 'sendTemplate'

export interface ScheduledSendRecord {
  id: number
  kind: ScheduledSendKind
  /** The request as validated when it was scheduled: `{ input }`, plus `conversationId` in a conversation. */
  request: { input: unknown; conversationId?: unknown }
  /** The business number it goes from (null: scheduled before several numbers, the default one). */
  businessPhoneNumberId: string | null
  phoneNumber: string | null
  conversationId: number | null
  templateName: string | null
  language: string | null
  sendAt: Date
  status: ScheduledSendStatus
  owner: string | null
  leaseUntil: Date | null
  sentAt: Date | null
  late: boolean
  completedAt: Date | null
  messageId: number | null
  batchId: number | null
  errorCode: string | null
  errorMessage: string | null
  errorDetails: unknown
  /** The name of the key that scheduled it. */
  sentBy: string | null
  createdAt: Date
}

export type NewScheduledSend = Pick<
  ScheduledSendRecord,
  | 'kind'
  | 'request'
  | 'businessPhoneNumberId'
  | 'phoneNumber'
  | 'conversationId'
  | 'templateName'
  | 'language'
  | 'sendAt'
  | 'sentBy'
>

/** How a send ended: it ran (its message or batch shows the outcome), or it failed before or at Meta. */
export interface ScheduledOutcome {
  status: 'sent' | 'failed'
  messageId: number | null
  batchId: number | null
  error: { code: string; message: string; details: Record<string, unknown> | null } | null
}

/** Only sends from the caller's numbers: a filter in the query. */
const inScope = (scope: NumberScope) => (scope === null ? {} : { businessPhoneNumberId: { in: scope } })

/** Scheduled sends. The only code that talks to Prisma about them. */
export class ScheduledSendRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async create(send: NewScheduledSend): Promise<ScheduledSendRecord> {
    return (await this.prisma.scheduledSend.create({
      data: { ...send, request: send.request as Prisma.InputJsonValue },
    })) as ScheduledSendRecord
  }

  /** The send, when it exists and goes from one of the `scope` numbers (null: any). */
  async findById(id: number, scope: NumberScope = null): Promise<ScheduledSendRecord | null> {
    return (await this.prisma.scheduledSend.findFirst({
      where: { id, ...inScope(scope) },
    })) as ScheduledSendRecord | null
  }

  /** Sends in these statuses, soonest first (send_at, then id), after the cursor `after`. */
  async page(
    statuses: ScheduledSendStatus[],
    first: number,
    after: { sendAt: Date; id: number } | null,
    scope: NumberScope = null,
  ): Promise<ScheduledSendRecord[]> {
    return (await this.prisma.scheduledSend.findMany({
      where: {
        status: { in: statuses },
        ...inScope(scope),
        ...(after ? { OR: [{ sendAt: { gt: after.sendAt } }, { sendAt: after.sendAt, id: { gt: after.id } }] } : {}),
      },
      orderBy: [{ sendAt: 'asc' }, { id: 'asc' }],
      take: first + 1,
    })) as ScheduledSendRecord[]
  }

  count(statuses: ScheduledSendStatus[], scope: NumberScope = null): Promise<number> {
    return this.prisma.scheduledSend.count({ where: { status: { in: statuses }, ...inScope(scope) } })
  }

  /**
   * Cancels a send nobody has claimed; null when it is not `scheduled` (any more). The UPDATE waits
   * for a claim holding the row, then finds it `sending`: a send is either cancelled or sent.
   */
  async cancel(id: number, scope: NumberScope = null): Promise<ScheduledSendRecord | null> {
    const { count } = await this.prisma.scheduledSend.updateMany({
      where: { id, status: 'scheduled', ...inScope(scope) },
      data: { status: 'cancelled', completedAt: new Date() },
    })
    return count ? this.findById(id) : null
  }

  /**
   * Milliseconds from now (database clock) until the next send is due: the soonest `scheduled`
   * one, or a claim whose lease lapses (its instance died). Negative when one is overdue; null when
   * there is none.
   */
  async nextDueInMs(): Promise<number | null> {
    const [row] = await this.prisma.$queryRaw<{ ms: number | null }[]>`
      SELECT (EXTRACT(EPOCH FROM (MIN(due) - now())) * 1000)::float8 AS ms FROM (
        (SELECT send_at AS due FROM scheduled_sends WHERE status = 'scheduled' ORDER BY send_at LIMIT 1)
        UNION ALL
        (SELECT lease_until FROM scheduled_sends WHERE status = 'sending' ORDER BY lease_until LIMIT 1)
      ) d`
    return row?.ms ?? null
  }

  /**
   * Claims up to `limit` due sends for `owner` on a lease of `leaseMs`, in one statement (FOR
   * UPDATE SKIP LOCKED: two instances never claim the same one): `scheduled` ones whose time came,
   * and `sending` ones whose lease lapsed (their instance died; with `exclusive`, a database no
   * other process can open, every claim not ours). The first claim notes when it went out
   * (`sent_at`) and whether that was more than `lateAfterMs` after its time.
   */
  async claimDue(
    owner: string,
    options: { limit: number; leaseMs: number; lateAfterMs: number; exclusive: boolean },
  ): Promise<ScheduledSendRecord[]> {
    const orphaned = options.exclusive ? Prisma.sql`OR (owner IS NOT NULL AND owner <> ${owner})` : Prisma.empty
    const rows = await this.prisma.$queryRaw<{ id: number }[]>`
      UPDATE scheduled_sends s
      SET status = 'sending', owner = ${owner},
          lease_until = now() + ${options.leaseMs} * interval '1 millisecond',
          late = CASE WHEN s.sent_at IS NULL
                      THEN now() - s.send_at > ${options.lateAfterMs} * interval '1 millisecond'
                      ELSE s.late END,
          sent_at = COALESCE(s.sent_at, now())
      WHERE s.id IN (
        SELECT id FROM scheduled_sends
        WHERE (status = 'scheduled' AND send_at <= now())
           OR (status = 'sending' AND (lease_until IS NULL OR lease_until < now() ${orphaned}))
        ORDER BY send_at, id
        LIMIT ${options.limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING s.id`
    if (!rows.length) return []
    return (await this.prisma.scheduledSend.findMany({
      where: { id: { in: rows.map((r) => r.id) } },
      orderBy: [{ sendAt: 'asc' }, { id: 'asc' }],
    })) as ScheduledSendRecord[]
  }

  /** Keeps this instance's claims alive while their sends run. */
  async renew(ids: number[], owner: string, leaseMs: number): Promise<void> {
    if (!ids.length) return
    await this.prisma.$executeRaw`
      UPDATE scheduled_sends SET lease_until = now() + ${leaseMs} * interval '1 millisecond'
      WHERE id = ANY(${ids}::int[]) AND owner = ${owner} AND status = 'sending'`
  }

  /** Records the outcome of a send this instance claimed. */
  async complete(id: number, owner: string, outcome: ScheduledOutcome): Promise<void> {
    await this.prisma.scheduledSend.updateMany({
      where: { id, owner, status: 'sending' },
      data: {
        status: outcome.status,
        owner: null,
        leaseUntil: null,
        completedAt: new Date(),
        messageId: outcome.messageId,
        batchId: outcome.batchId,
        errorCode: outcome.error?.code ?? null,
        errorMessage: outcome.error?.message ?? null,
        errorDetails: (outcome.error?.details ?? Prisma.DbNull) as Prisma.InputJsonValue,
      },
    })
  }

  /** Gives a claim back to be tried again in `delayMs` (by any instance), still `sending`. */
  async retryLater(id: number, owner: string, delayMs: number): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE scheduled_sends SET owner = NULL, lease_until = now() + ${delayMs} * interval '1 millisecond'
      WHERE id = ${id} AND owner = ${owner} AND status = 'sending'`
  }

  /** Puts back a claimed send that did nothing (the service was stopping): due again, as it was. */
  async unclaim(id: number, owner: string): Promise<void> {
    await this.prisma.scheduledSend.updateMany({
      where: { id, owner, status: 'sending' },
      data: { status: 'scheduled', owner: null, leaseUntil: null, sentAt: null, late: false },
    })
  }

  /** Gives up every claim of this instance (it is stopping): another instance, or the next start, takes them. */
  async releaseAll(owner: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE scheduled_sends SET owner = NULL, lease_until = now()
      WHERE owner = ${owner} AND status = 'sending'`
  }
}
