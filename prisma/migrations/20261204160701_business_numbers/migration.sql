-- AlterEnum
ALTER TYPE "WebhookEventStatus" ADD VALUE 'unknown_number';

-- DropIndex
DROP INDEX "conversations_phone_number_key";

-- DropIndex
DROP INDEX "conversations_wa_id_key";

-- DropIndex
DROP INDEX "conversations_wa_user_id_key";

-- AlterTable
ALTER TABLE "conversations" ADD COLUMN     "business_phone_number_id" TEXT;

-- AlterTable
ALTER TABLE "webhook_events" ADD COLUMN     "phone_number_id" TEXT;

-- CreateTable
CREATE TABLE "business_numbers" (
    "phone_number_id" TEXT NOT NULL,
    "business_account_id" TEXT NOT NULL,
    "display_phone_number" TEXT,
    "access_token_ciphertext" TEXT,
    "messages_per_second" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "business_numbers_pkey" PRIMARY KEY ("phone_number_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "conversations_business_phone_number_id_phone_number_key" ON "conversations"("business_phone_number_id", "phone_number");

-- CreateIndex
CREATE UNIQUE INDEX "conversations_business_phone_number_id_wa_id_key" ON "conversations"("business_phone_number_id", "wa_id");

-- CreateIndex
CREATE UNIQUE INDEX "conversations_business_phone_number_id_wa_user_id_key" ON "conversations"("business_phone_number_id", "wa_user_id");
