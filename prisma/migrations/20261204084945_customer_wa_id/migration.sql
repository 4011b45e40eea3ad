-- AlterTable
ALTER TABLE "conversations" ADD COLUMN     "wa_id" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "conversations_wa_id_key" ON "conversations"("wa_id");

-- A customer who wrote to us wrote from their WhatsApp id.
UPDATE "conversations" c SET "wa_id" = c."phone_number"
WHERE c."phone_number" IS NOT NULL
  AND EXISTS (SELECT 1 FROM "messages" m WHERE m."conversation_id" = c."id" AND m."direction" = 'inbound');
