import { z } from 'zod'
import { ValidationError } from '../errors/errors.js'
import { parseInput } from '../validation.js'
import type { BusinessNumberRecord, BusinessNumberRepository } from './business-number.repository.js'
import type { TokenCipher } from './token-cipher.js'

/** A business number as the API shows it: never its token, only whether it has its own. */
export interface BusinessNumberView {
  phoneNumberId: string
  businessAccountId: string
  displayPhoneNumber: string | null
  messagesPerSecond: number
  /** False: it sends with the shared WHATSAPP_ACCESS_TOKEN. */
  hasOwnAccessToken: boolean
  createdAt: Date
}

const digits = z
  .string()
  .trim()
  .regex(/^\d{1,32}$/, 'must be digits (Meta’s id)')
const addSchema = z.object({
  phoneNumberId: digits,
  businessAccountId: digits,
  displayPhoneNumber: z.string().trim().min(1).max(32).nullish(),
  accessToken: z.string().trim().min(1).max(4096).nullish(),
  // Meta's tiers are 80 and 1,000 messages a second per number.
  messagesPerSecond: z.number().int().min(1).max(10_000).nullish(),
})

/** The default number, from today's WHATSAPP_* variables. */
export interface DefaultNumber {
  phoneNumberId: string
  businessAccountId: string
  messagesPerSecond: number
}

/**
 * The business numbers the service sends from and receives on. Their Meta access tokens are
 * stored encrypted and leave this class only to call Meta ({@link accessTokenOf}).
 */
export class BusinessNumberService {
  constructor(
    private readonly repository: BusinessNumberRepository,
    /** Null in production without SECRETS_KEY: a token is then refused, not stored in clear. */
    private readonly cipher: TokenCipher | null,
    private readonly defaults: { messagesPerSecond: number; onAdded?: (phoneNumberId: string) => Promise<void> },
  ) {}

  /**
   * Records the default number (the WHATSAPP_* variables) and gives it every conversation older
   * than several numbers: a single-number setup needs nothing new. Its stored settings change only
   * with the variables.
   */
  async ensureDefault(number: DefaultNumber): Promise<void> {
    const existing = await this.repository.find(number.phoneNumberId)
    await this.repository.save({
      phoneNumberId: number.phoneNumberId,
      businessAccountId: number.businessAccountId,
      displayPhoneNumber: existing?.displayPhoneNumber ?? null,
      accessTokenCiphertext: existing?.accessTokenCiphertext ?? null,
      messagesPerSecond: number.messagesPerSecond,
    })
    await this.repository.backfill(number.phoneNumberId, number.businessAccountId)
  }

  /**
   * Adds a number (or changes one already added): webhooks kept for it until now are applied.
   * @throws ValidationError (also for a token when no SECRETS_KEY is configured in production)
   */
  async add(input: unknown): Promise<BusinessNumberView> {
    const parsed = parseInput(addSchema, input, 'input')
    let accessTokenCiphertext: string | null = null
    if (parsed.accessToken) {
      if (!this.cipher)
        throw new ValidationError([
          {
            path: 'input.accessToken',
            message: 'cannot be stored: set SECRETS_KEY (32 random bytes) so that tokens are encrypted at rest',
          },
        ])
      accessTokenCiphertext = this.cipher.encrypt(parsed.accessToken, parsed.phoneNumberId)
    }
    const saved = await this.repository.save({
      phoneNumberId: parsed.phoneNumberId,
      businessAccountId: parsed.businessAccountId,
      displayPhoneNumber: parsed.displayPhoneNumber ?? null,
      accessTokenCiphertext,
      messagesPerSecond: parsed.messagesPerSecond ?? this.defaults.messagesPerSecond,
    })
    this.displays.delete(saved.phoneNumberId)
    await this.defaults.onAdded?.(saved.phoneNumberId)
    return view(saved)
  }

  /** The numbers `phoneNumberIds` allows (null: every one), oldest first. */
  async list(phoneNumberIds: string[] | null): Promise<BusinessNumberView[]> {
    return (await this.repository.list(phoneNumberIds)).map(view)
  }

  /** The Business Accounts of these numbers (null: every number's), for filtering templates. */
  async accountsOf(phoneNumberIds: string[] | null): Promise<string[]> {
    return [...new Set((await this.repository.list(phoneNumberIds)).map((n) => n.businessAccountId))]
  }

  /** Display numbers seen (a conversation list asks once per number, not per conversation). */
  private readonly displays = new Map<string, Promise<{ phoneNumberId: string; displayPhoneNumber: string | null }>>()

  /** What a conversation shows of its number. */
  display(phoneNumberId: string): Promise<{ phoneNumberId: string; displayPhoneNumber: string | null }> {
    let display = this.displays.get(phoneNumberId)
    if (!display) {
      display = this.repository
        .find(phoneNumberId)
        .then((n) => ({ phoneNumberId, displayPhoneNumber: n?.displayPhoneNumber ?? null }))
      this.displays.set(phoneNumberId, display)
      display.catch(() => this.displays.delete(phoneNumberId))
    }
    return display
  }

  /** Numbers known to exist (numbers are never removed, so this only grows). */
  private readonly known = new Set<string>()

  /** Whether a number was added; asks the database only for one not seen yet (webhooks are a hot path). */
  async isKnown(phoneNumberId: string): Promise<boolean> {
    if (this.known.has(phoneNumberId)) return true
    if (!(await this.repository.find(phoneNumberId))) return false
    this.known.add(phoneNumberId)
    return true
  }

  async find(phoneNumberId: string): Promise<BusinessNumberView | null> {
    const found = await this.repository.find(phoneNumberId)
    return found && view(found)
  }

  /** The number's own Meta access token, decrypted, or null when it uses the shared one. */
  async accessTokenOf(phoneNumberId: string): Promise<string | null> {
    const found = await this.repository.find(phoneNumberId)
    if (!found?.accessTokenCiphertext) return null
    if (!this.cipher) throw new Error('SECRETS_KEY is needed to read the stored access token of a business number')
    return this.cipher.decrypt(found.accessTokenCiphertext, phoneNumberId)
  }
}

function view(n: BusinessNumberRecord): BusinessNumberView {
  return {
    phoneNumberId: n.phoneNumberId,
    businessAccountId: n.businessAccountId,
    displayPhoneNumber: n.displayPhoneNumber,
    messagesPerSecond: n.messagesPerSecond,
    hasOwnAccessToken: n.accessTokenCiphertext !== null,
    createdAt: n.createdAt,
  }
}
