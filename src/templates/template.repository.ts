import type { PrismaClient } from '../db/database.js'

export interface TemplateComponentRecord {
  type: string
  format?: string
  text?: string
  buttons?: { type: string; text?: string; url?: string; phone_number?: string }[]
  example?: unknown
}

export interface TemplateRecord {
  id: number
  /** The WhatsApp Business Account it belongs to. */
  businessAccountId: string | null
  metaId: string | null
  name: string
  language: string
  status: string
  /** Meta's reason for its last status change, when a webhook gave one. */
  statusReason?: string | null
  category: string
  parameterFormat: string | null
  components: TemplateComponentRecord[]
  syncedAt: Date
  removedAt: Date | null
}

/** A template as Meta currently has it. */
export type TemplateSnapshot = Omit<TemplateRecord, 'id' | 'businessAccountId' | 'syncedAt' | 'removedAt'>

export interface TemplateFilter {
  status?: string
  category?: string
  language?: string
  name?: string
  includeRemoved?: boolean
  /** Only these Business Accounts' templates (a caller limited to some numbers); absent: every account's. */
  businessAccountIds?: string[]
}

/** Message templates as last synced from Meta. */
export class TemplateRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async list(filter: TemplateFilter = {}): Promise<TemplateRecord[]> {
    const rows = await this.prisma.template.findMany({
      where: {
        ...(filter.status ? { status: filter.status } : {}),
        ...(filter.category ? { category: filter.category } : {}),
        ...(filter.language ? { language: filter.language } : {}),
        ...(filter.name ? { name: filter.name } : {}),
        ...(filter.includeRemoved ? {} : { removedAt: null }),
        ...(filter.businessAccountIds ? { businessAccountId: { in: filter.businessAccountIds } } : {}),
      },
      orderBy: [{ name: 'asc' }, { language: 'asc' }, { businessAccountId: 'asc' }],
    })
    return rows as unknown as TemplateRecord[]
  }

  async find(businessAccountId: string, name: string, language: string): Promise<TemplateRecord | null> {
    const row = await this.prisma.template.findFirst({ where: { businessAccountId, name, language } })
    return row as unknown as TemplateRecord | null
  }

  /**
   * The template of the Business Account of business number `from` (null: of any account, the
   * oldest), for a send from that number.
   */
  async findForNumber(from: string | null, name: string, language: string): Promise<TemplateRecord | null> {
    const rows = await this.prisma.$queryRaw<{ id: number }[]>`
      SELECT t.id FROM templates t
      WHERE t.name = ${name} AND t.language = ${language}
        AND (${from}::text IS NULL OR t.business_account_id =
             (SELECT b.business_account_id FROM business_numbers b WHERE b.phone_number_id = ${from}::text))
      ORDER BY t.id LIMIT 1`
    if (!rows[0]) return null
    return (await this.prisma.template.findUnique({ where: { id: rows[0].id } })) as unknown as TemplateRecord
  }

  /**
   * Makes the stored templates what Meta returned, in one transaction: upserts each by name and
   * language, and marks `removedAt` on the ones Meta no longer has (kept for history, never shown
   * as usable).
   */
  async replaceAll(businessAccountId: string, templates: TemplateSnapshot[], syncedAt: Date): Promise<void> {
    const keep = templates.map((t) => ({ name: t.name, language: t.language }))
    await this.prisma.$transaction([
      ...templates.map((t) =>
        this.prisma.template.upsert({
          where: { businessAccountId_name_language: { businessAccountId, name: t.name, language: t.language } },
          create: { ...t, businessAccountId, components: t.components as object[], syncedAt },
          update: { ...t, components: t.components as object[], syncedAt, removedAt: null },
        }),
      ),
      this.prisma.template.updateMany({
        where: { businessAccountId, removedAt: null, NOT: keep.length ? { OR: keep } : undefined },
        data: { removedAt: syncedAt },
      }),
    ])
  }

  /**
   * Applies a status Meta reported for a template (APPROVED, REJECTED, PAUSED, …), with its reason,
   * in its Business Account (null: the webhook named none, every account's template of that name).
   */
  async setStatus(
    businessAccountId: string | null,
    name: string,
    language: string,
    status: string,
    reason: string | null = null,
  ): Promise<boolean> {
    const { count } = await this.prisma.template.updateMany({
      where: { name, language, ...(businessAccountId ? { businessAccountId } : {}) },
      data: { status, statusReason: reason },
    })
    return count > 0
  }
}
