-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "sent_by" TEXT;

-- AlterTable
ALTER TABLE "scheduled_sends" ADD COLUMN     "sent_by" TEXT;

-- AlterTable
ALTER TABLE "template_batches" ADD COLUMN     "sent_by" TEXT;

-- CreateTable
CREATE TABLE "api_keys" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "scope" TEXT NOT NULL,
    "phone_number_ids" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "key_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_name_key" ON "api_keys"("name");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");
