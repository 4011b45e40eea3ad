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
export type TemplateSnapshot = Omit<TemplateRecord, 'id' | 'syncedAt' | 'removedAt'>

export interface TemplateFilter {
  status?: string
  category?: string
  language?: string
  name?: string
  includeRemoved?: boolean
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
      },
      orderBy: [{ name: 'asc' }, { language: 'asc' }],
    })
    return rows as unknown as TemplateRecord[]
  }

  async find(name: string, language: string): Promise<TemplateRecord | null> {
    const row = await this.prisma.template.findUnique({ where: { name_language: { name, language } } })
    return row as unknown as TemplateRecord | null
  }

  /**
   * Makes the stored templates what Meta returned, in one transaction: upserts each by name and
   * language, and marks `removedAt` on the ones Meta no longer has (kept for history, never shown
   * as usable).
   */
  async replaceAll(templates: TemplateSnapshot[], syncedAt: Date): Promise<void> {
    const keep = templates.map((t) => ({ name: t.name, language: t.language }))
    await this.prisma.$transaction([
      ...templates.map((t) =>
        this.prisma.template.upsert({
          where: { name_language: { name: t.name, language: t.language } },
          create: { ...t, components: t.components as object[], syncedAt },
          update: { ...t, components: t.components as object[], syncedAt, removedAt: null },
        }),
      ),
      this.prisma.template.updateMany({
        where: { removedAt: null, NOT: keep.length ? { OR: keep } : undefined },
        data: { removedAt: syncedAt },
      }),
    ])
  }

  /** Applies a status Meta reported for a template (APPROVED, REJECTED, PAUSED, …), with its reason. */
  async setStatus(name: string, language: string, status: string, reason: string | null = null): Promise<boolean> {
    const { count } = await this.prisma.template.updateMany({
      where: { name, language },
      data: { status, statusReason: reason },
    })
    return count > 0
  }
}
