import type { PrismaClient } from './database.js'

/**
 * Where the database's history stands, for reads that want to know whether anything changed.
 * The only code that asks PostgreSQL for it.
 */
export class SnapshotRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * PostgreSQL's current snapshot (`xmin:xmax:in-progress xids`) as text. Two equal answers mean
   * that no transaction committed, and none began writing, in between: any commit either raises
   * `xmax` (it got its xid later) or leaves the in-progress list (it was in it). Read-only
   * transactions take no xid and change nothing.
   * @see https://www.postgresql.org/docs/current/functions-info.html#FUNCTIONS-PG-SNAPSHOT
   */
  async current(): Promise<string> {
    const [row] = await this.prisma.$queryRaw<{ snapshot: string }[]>`SELECT pg_current_snapshot()::text AS snapshot`
    return row.snapshot
  }
}
