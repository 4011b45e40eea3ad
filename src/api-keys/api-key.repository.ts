import type { PrismaClient } from '../db/database.js'
import type { Scope } from '../auth/principal.js'

/** A stored key as the service sees it: never the key, only its digest. */
export interface ApiKeyRecord {
  id: number
  name: string
  scope: Scope
  /** Null: every number. */
  phoneNumberIds: string[] | null
  keyHash: string
  createdAt: Date
  lastUsedAt: Date | null
}

type Row = {
  id: number
  name: string
  scope: string
  phoneNumberIds: string[]
  keyHash: string
  createdAt: Date
  lastUsedAt: Date | null
}

// An empty list is stored for "every number": Prisma has no nullable lists.
const record = (row: Row): ApiKeyRecord => ({
  ...row,
  scope: row.scope as Scope,
  phoneNumberIds: row.phoneNumberIds.length ? row.phoneNumberIds : null,
})

export class ApiKeyRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Null when the name is taken. */
  async create(key: {
    name: string
    scope: Scope
    phoneNumberIds: string[] | null
    keyHash: string
  }): Promise<ApiKeyRecord | null> {
    try {
      return record(await this.prisma.apiKey.create({ data: { ...key, phoneNumberIds: key.phoneNumberIds ?? [] } }))
    } catch (err) {
      if ((err as { code?: unknown }).code === 'P2002') return null
      throw err
    }
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | null> {
    const row = await this.prisma.apiKey.findUnique({ where: { keyHash } })
    return row && record(row)
  }

  /** Every key, oldest first. */
  async list(): Promise<ApiKeyRecord[]> {
    return (await this.prisma.apiKey.findMany({ orderBy: { id: 'asc' } })).map(record)
  }

  /** Deletes the key named `name`; answers it, or null when there was none. */
  async deleteByName(name: string): Promise<ApiKeyRecord | null> {
    const rows = await this.prisma.apiKey.findMany({ where: { name }, take: 1 })
    if (!rows.length) return null
    const { count } = await this.prisma.apiKey.deleteMany({ where: { id: rows[0].id } })
    return count ? record(rows[0]) : null
  }

  async touch(id: number, at: Date): Promise<void> {
    await this.prisma.apiKey.updateMany({ where: { id }, data: { lastUsedAt: at } })
  }
}
