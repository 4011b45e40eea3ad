-- AlterTable
ALTER TABLE "conversations" ADD COLUMN     "last_message_id" INTEGER;

-- CreateIndex
CREATE UNIQUE INDEX "conversations_last_message_id_key" ON "conversations"("last_message_id");

-- CreateIndex
CREATE INDEX "conversations_updated_at_idx" ON "conversations"("updated_at");

-- AddForeignKey
ALTER TABLE "conversations" ADD CONSTRAINT "conversations_last_message_id_fkey" FOREIGN KEY ("last_message_id") REFERENCES "messages"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- Backfill: each conversation's latest stored message.
UPDATE "conversations" c
SET "last_message_id" = (SELECT max(m."id") FROM "messages" m WHERE m."conversation_id" = c."id");
