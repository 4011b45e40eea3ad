-- DropIndex
DROP INDEX "conversations_last_message_at_idx";

-- CreateIndex: NULLS LAST by hand (Prisma's schema cannot say it), as lists sort: newest activity
-- first, conversations without messages last, then id. Prisma's diff does not compare null order.
CREATE INDEX "conversations_last_message_at_id_idx" ON "conversations"("last_message_at" DESC NULLS LAST, "id" DESC);
