import type { MetaApi } from '../meta/meta.api.js'
import type { SendRateLimiter } from '../messages/send-rate.js'
import type { BusinessNumberRepository } from './business-number.repository.js'
import type { TokenCipher } from './token-cipher.js'

/** What sending from one business number takes: Meta as that number (its id, its token) and its send rate. */
export interface NumberChannel {
  phoneNumberId: string
  businessAccountId: string
  meta: MetaApi
  rate: SendRateLimiter
}

export interface ChannelFactories {
  /** Meta as this number: with its own access token, or the shared one when null. */
  meta(phoneNumberId: string, businessAccountId: string, accessToken: string | null): MetaApi
  /** Its send-rate limit, shared by every instance (keyed by the number). */
  rate(phoneNumberId: string, messagesPerSecond: number): SendRateLimiter
}

/**
 * Each business number's channel, built once per instance on first use. The default number's is
 * the one the service always had (same Meta client, same limiter), so a single-number setup is
 * unchanged.
 */
export class NumberChannels {
  private readonly channels = new Map<string, Promise<NumberChannel | null>>()

  constructor(
    private readonly repository: BusinessNumberRepository,
    private readonly cipher: TokenCipher | null,
    private readonly factories: ChannelFactories,
    readonly defaultChannel: NumberChannel,
  ) {
    this.channels.set(defaultChannel.phoneNumberId, Promise.resolve(defaultChannel))
  }

  get defaultNumber(): string {
    return this.defaultChannel.phoneNumberId
  }

  /** The channel of a number, or null when no such number was added. */
  channel(phoneNumberId: string): Promise<NumberChannel | null> {
    let channel = this.channels.get(phoneNumberId)
    if (!channel) {
      channel = this.build(phoneNumberId)
      this.channels.set(phoneNumberId, channel)
      // An unknown number is asked again next time (it may be added meanwhile).
      void channel.then(
        (c) => c ?? this.channels.delete(phoneNumberId),
        () => this.channels.delete(phoneNumberId),
      )
    }
    return channel
  }

  /** One channel per Business Account of these numbers (null: every number), to sync its templates. */
  async accounts(phoneNumberIds: string[] | null): Promise<NumberChannel[]> {
    const numbers = await this.repository.list(phoneNumberIds)
    const byAccount = new Map<string, string>()
    // The default number speaks for its account: the shared token is the one that always had access.
    for (const n of numbers)
      if (n.phoneNumberId === this.defaultNumber) byAccount.set(n.businessAccountId, n.phoneNumberId)
    for (const n of numbers)
      if (!byAccount.has(n.businessAccountId)) byAccount.set(n.businessAccountId, n.phoneNumberId)
    const channels = await Promise.all([...byAccount.values()].map((id) => this.channel(id)))
    return channels.filter((c): c is NumberChannel => c !== null)
  }

  /** A number was added or changed here: its next send builds its channel anew. */
  forget(phoneNumberId: string): void {
    if (phoneNumberId !== this.defaultNumber) this.channels.delete(phoneNumberId)
  }

  private async build(phoneNumberId: string): Promise<NumberChannel | null> {
    const number = await this.repository.find(phoneNumberId)
    if (!number) return null
    let token: string | null = null
    if (number.accessTokenCiphertext) {
      if (!this.cipher) throw new Error(`SECRETS_KEY is needed to read business number ${phoneNumberId}'s access token`)
      token = this.cipher.decrypt(number.accessTokenCiphertext, phoneNumberId)
    }
    return {
      phoneNumberId,
      businessAccountId: number.businessAccountId,
      meta: this.factories.meta(phoneNumberId, number.businessAccountId, token),
      rate: this.factories.rate(phoneNumberId, number.messagesPerSecond),
    }
  }
}
