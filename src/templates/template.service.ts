import { z } from 'zod'
import { parseInput } from '../validation.js'
import type { MetaApi } from '../meta/meta.client.js'
import type { TemplateRecord, TemplateRepository } from './template.repository.js'

const statusSchema = z
  .string({ error: 'status must be a single template status, e.g. APPROVED' })
  .regex(/^[A-Za-z_]{1,32}$/, 'status must be a template status, e.g. APPROVED')
  .transform((s) => s.toUpperCase())
  .optional()

export interface ListTemplatesOptions {
  /** Fetch every template from Meta and sync the database before answering. */
  refresh?: boolean
  /** Only templates in this status, e.g. APPROVED. */
  status?: unknown
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

  /** @throws ValidationError for a malformed status */
  async list(options: ListTemplatesOptions = {}): Promise<TemplateRecord[]> {
    const status = parseInput(statusSchema, options.status, 'status')
    if (options.refresh) await this.sync()
    return this.templates.list({ status })
  }
}
