import { z } from 'zod'
import { parseInput } from '../validation.js'
import type { MetaApi } from '../meta/meta.api.js'
import type { TemplateRecord, TemplateRepository } from './template.repository.js'
import type { NumberScope } from '../auth/principal.js'

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

/** A Business Account to sync from: its id, and Meta as one of its numbers. */
export interface TemplateAccount {
  businessAccountId: string
  meta: Pick<MetaApi, 'listTemplates'>
}

/** The Business Accounts of the business numbers. */
export interface TemplateAccounts {
  /** One per account of these numbers (null: every number). */
  accounts(phoneNumberIds: NumberScope): Promise<TemplateAccount[]>
}

/** Templates live in a WhatsApp Business Account: each account is synced and checked on its own. */
export class TemplateService {
  constructor(
    private readonly templates: TemplateRepository,
    private readonly accounts: TemplateAccounts,
  ) {}

  /**
   * Fetches all templates of the accounts (every page) from Meta and makes the database match:
   * upsert by account, name and language, and mark the ones Meta no longer returns as removed.
   */
  async sync(scope: NumberScope = null): Promise<void> {
    for (const account of await this.accounts.accounts(scope)) await this.syncAccount(account)
  }

  private async syncAccount(account: TemplateAccount): Promise<void> {
    const remote = await account.meta.listTemplates()
    await this.templates.replaceAll(account.businessAccountId, remote, new Date())
  }

  /**
   * The synced template of the account with this name and language; one we have not seen yet
   * triggers one sync of that account from Meta first (it may have been approved since). Null
   * when Meta does not have it either.
   */
  async findForSend(account: TemplateAccount, name: string, language: string): Promise<TemplateRecord | null> {
    const known = await this.templates.find(account.businessAccountId, name, language)
    const usable = known && known.removedAt === null ? known : null
    // Approved and known: no need to ask Meta. Otherwise (unseen, or PENDING/PAUSED when we last
    // looked) Meta may know better; ask, but not more than once per interval and account, so a
    // script of typos does not spend Meta's rate limits.
    const last = this.lastMissSync.get(account.businessAccountId) ?? 0
    if (usable?.status === 'APPROVED' || Date.now() - last < MISS_SYNC_INTERVAL_MS) return usable
    this.lastMissSync.set(account.businessAccountId, Date.now())
    await this.syncAccount(account)
    const synced = await this.templates.find(account.businessAccountId, name, language)
    return synced && synced.removedAt === null ? synced : null
  }

  private readonly lastMissSync = new Map<string, number>()

  /**
   * The templates of the accounts of the caller's numbers (null: every account's).
   * @throws ValidationError for a malformed filter
   */
  async list(options: ListTemplatesOptions = {}, scope: NumberScope = null): Promise<TemplateRecord[]> {
    const { refresh, ...filter } = parseInput(templateListSchema, options)
    if (refresh) await this.sync(scope)
    const businessAccountIds =
      scope === null ? undefined : (await this.accounts.accounts(scope)).map((a) => a.businessAccountId)
    return this.templates.list({ ...filter, businessAccountIds })
  }
}
