import { z } from 'zod'
import { parseInput } from '../validation.js'
import type { MetaApi } from '../meta/meta.api.js'
import type { TemplateRecord, TemplateRepository } from './template.repository.js'

const upperWord = (example: string) =>
  z
    .string({ error: `must be a single value, e.g. ${example}` })
    .regex(/^[A-Za-z_]{1,32}$/, `must be a value like ${example}`)
    .transform((s) => s.toUpperCase())
    .optional()

export const templateListSchema = z.object({
  refresh: z.boolean().optional(),
  status: upperWord('APPROVED'),
  category: upperWord('UTILITY'),
  language: z
    .string({ error: 'must be a single language code' })
    .regex(/^[a-z]{2,3}(_[A-Za-z]{2,4})?$/, 'must be a language code like es or en_US')
    .optional(),
  name: z
    .string({ error: 'must be a single name' })
    .regex(/^[a-z0-9_]{1,512}$/, 'must be a template name')
    .optional(),
})

/** At most one sync from Meta per this interval for templates a send asked about but we lack. */
const MISS_SYNC_INTERVAL_MS = 10_000

export interface ListTemplatesOptions {
  /** Fetch every template from Meta and sync the database before answering. */
  refresh?: boolean
  /** Filters (each optional): status (APPROVED…), category (UTILITY…), language, name. */
  status?: unknown
  category?: unknown
  language?: unknown
  name?: unknown
}

export class TemplateService {
  constructor(
    private readonly templates: TemplateRepository,
    private readonly meta: MetaApi,
  ) {}

  /**
   * Fetches all templates from Meta (every page) and makes the database match: upsert by name and
   * language, and mark the ones Meta no longer returns as removed.
   */
  async sync(): Promise<void> {
    const remote = await this.meta.listTemplates()
    await this.templates.replaceAll(remote, new Date())
  }

  /**
   * The synced template with this name and language; one we have not seen yet triggers one sync
   * from Meta first (it may have been approved since). Null when Meta does not have it either.
   */
  async findForSend(name: string, language: string): Promise<TemplateRecord | null> {
    const known = await this.templates.find(name, language)
    const usable = known && known.removedAt === null ? known : null
    // Approved and known: no need to ask Meta. Otherwise (unseen, or PENDING/PAUSED when we last
    // looked) Meta may know better; ask, but not more than once per interval, so a script of typos
    // does not spend Meta's rate limits.
    if (usable?.status === 'APPROVED' || Date.now() - this.lastMissSync < MISS_SYNC_INTERVAL_MS) return usable
    this.lastMissSync = Date.now()
    await this.sync()
    const synced = await this.templates.find(name, language)
    return synced && synced.removedAt === null ? synced : null
  }

  private lastMissSync = 0

  /** @throws ValidationError for a malformed filter */
  async list(options: ListTemplatesOptions = {}): Promise<TemplateRecord[]> {
    const { refresh, ...filter } = parseInput(templateListSchema, options)
    if (refresh) await this.sync()
    return this.templates.list(filter)
  }
}
