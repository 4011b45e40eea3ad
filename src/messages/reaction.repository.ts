import type { PrismaClient } from '../db/database.js'

export type ReactionActor = 'customer' | 'business'

export interface ReactionRecord {
  /** The wamid of the message reacted to. */
  targetWamid: string
  actor: ReactionActor
  /** Null: removed. */
  emoji: string | null
  reactedAt: Date
  /** The reaction's own wamid. */
  wamid: string | null
}

/** Reactions, one per side per message. The only code that talks to the database about them. */
export class ReactionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Sets (or, with a null emoji, removes) a side's reaction, unless a later one is stored already:
   * webhooks arrive out of order. True when it changed.
   */
  async apply(reaction: ReactionRecord): Promise<boolean> {
    const changed = await this.prisma.$executeRaw`
      INSERT INTO reactions AS r (target_wamid, actor, emoji, reacted_at, wamid)
      VALUES (${reaction.targetWamid}, ${reaction.actor}, ${reaction.emoji}, ${reaction.reactedAt}, ${reaction.wamid})
      ON CONFLICT (target_wamid, actor) DO UPDATE
        SET emoji = EXCLUDED.emoji, reacted_at = EXCLUDED.reacted_at, wamid = EXCLUDED.wamid
        WHERE r.reacted_at <= EXCLUDED.reacted_at`
    return changed > 0
  }

  /** The current reactions to messages with these wamids, in one query (for DataLoader). */
  async forMessages(wamids: readonly string[]): Promise<Map<string, ReactionRecord[]>> {
    const rows = (await this.prisma.reaction.findMany({
      where: { targetWamid: { in: [...wamids] }, emoji: { not: null } },
      orderBy: { reactedAt: 'asc' },
    })) as ReactionRecord[]
    const byWamid = new Map<string, ReactionRecord[]>()
    for (const row of rows) byWamid.set(row.targetWamid, [...(byWamid.get(row.targetWamid) ?? []), row])
    return byWamid
  }
}
