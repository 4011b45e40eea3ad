import type { PrismaClient } from '../db/database.js'

export interface WebhookEventRecord {
  id: number
  body: string
  status: 'received' | 'applied' | 'failed'
  error: string | null
  attempts: number
  receivedAt: Date
  appliedAt: Date | null
}

/** Webhook deliveries as received, and what became of them. */
export class WebhookRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async store(body: string): Promise<number> {
    const { id } = await this.prisma.webhookEvent.create({ data: { body }, select: { id: true } })
    return id
  }

  find(id: number): Promise<WebhookEventRecord | null> {
    return this.prisma.webhookEvent.findUnique({ where: { id } })
  }

  /** Ids of deliveries not applied yet (after a crash or restart), oldest first. */
  async unapplied(limit: number): Promise<number[]> {
    const rows = await this.prisma.webhookEvent.findMany({
      where: { status: 'received' },
      orderBy: { id: 'asc' },
      take: limit,
      select: { id: true },
    })
    return rows.map((r) => r.id)
  }

  async markApplied(id: number): Promise<void> {
    await this.prisma.webhookEvent.update({
      where: { id },
      data: { status: 'applied', appliedAt: new Date(), error: null, attempts: { increment: 1 } },
    })
  }

  /** Leaves the delivery to be applied again (a transient failure), counting the attempt. */
  async markForRetry(id: number, error: string): Promise<number> {
    const { attempts } = await this.prisma.webhookEvent.update({
      where: { id },
      data: { status: 'received', error, attempts: { increment: 1 } },
      select: { attempts: true },
    })
    return attempts
  }

  async markFailed(id: number, error: string): Promise<void> {
    await this.prisma.webhookEvent.update({
      where: { id },
      data: { status: 'failed', error, attempts: { increment: 1 } },
    })
  }
}
