import type { PrismaClient } from '../db/database.js'

/** A business number as stored (its token still encrypted). */
export interface BusinessNumberRecord {
  phoneNumberId: string
  businessAccountId: string
  displayPhoneNumber: string | null
  accessTokenCiphertext: string | null
  messagesPerSecond: number
  createdAt: Date
}

/** The business numbers. The only code that talks to Prisma about them. */
export class BusinessNumberRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Every number, or only those in `phoneNumberIds` (a limited caller's), oldest first. */
  list(phoneNumberIds: string[] | null = null): Promise<BusinessNumberRecord[]> {
    return this.prisma.businessNumber.findMany({
      where: phoneNumberIds ? { phoneNumberId: { in: phoneNumberIds } } : {},
      orderBy: [{ createdAt: 'asc' }, { phoneNumberId: 'asc' }],
    })
  }

  find(phoneNumberId: string): Promise<BusinessNumberRecord | null> {
    return this.prisma.businessNumber.findUnique({ where: { phoneNumberId } })
  }

  /** Adds a number, or changes the one with that phone number id. */
  save(number: Omit<BusinessNumberRecord, 'createdAt'>): Promise<BusinessNumberRecord> {
    const { phoneNumberId, ...rest } = number
    return this.prisma.businessNumber.upsert({ where: { phoneNumberId }, create: number, update: rest })
  }

  /** Gives conversations, batches, scheduled sends and templates older than several numbers to the default number. */
  async backfill(defaultPhoneNumberId: string, defaultBusinessAccountId: string): Promise<void> {
    await this.prisma.$executeRaw`
      UPDATE templates SET business_account_id = ${defaultBusinessAccountId} WHERE business_account_id IS NULL`
    await this.prisma.$executeRaw`
      UPDATE conversations SET business_phone_number_id = ${defaultPhoneNumberId} WHERE business_phone_number_id IS NULL`
    await this.prisma.$executeRaw`
      UPDATE scheduled_sends SET business_phone_number_id = ${defaultPhoneNumberId} WHERE business_phone_number_id IS NULL`
    await this.prisma.$executeRaw`
      UPDATE template_batches SET business_phone_number_id = ${defaultPhoneNumberId} WHERE business_phone_number_id IS NULL`
  }
}
