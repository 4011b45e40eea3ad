import type { PrismaClient } from './database.js'

/**
 * Where the database's history stands, for reads that want to know whether anything changed.
 * The only code that asks PostgreSQL for it.
 */
export class SnapshotRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * PostgreSQL's current snapshot (`xmin:xmax:in-progress xids`) as text. Two equal answers mean
   * that no transaction committed in between, in any database of the server: a commit either
   * raises `xmax` (its xid came later) or leaves the in-progress list (it was in it), and `xmax`
   * never goes back. Read-only transactions take no xid and change nothing. Only meaningful when
   * every statement reaches the same server (a primary, not a pool spreading reads over replicas).
   * @see https://www.postgresql.org/docs/current/functions-info.html#FUNCTIONS-PG-SNAPSHOT
   */
  async current(): Promise<string> {
    const [row] = await this.prisma.$queryRaw<{ snapshot: string }[]>`SELECT pg_current_snapshot()::text AS snapshot`
    return row.snapshot
  }
}
