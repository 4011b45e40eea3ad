-- CreateEnum
CREATE TYPE "TemplateBatchStatus" AS ENUM ('running', 'completed');

-- AlterEnum
ALTER TYPE "MessageStatus" ADD VALUE 'unknown';

-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "attempted_at" TIMESTAMPTZ(3),
ADD COLUMN     "batch_id" INTEGER,
ADD COLUMN     "recipient" TEXT;

-- CreateTable
CREATE TABLE "template_batches" (
    "id" SERIAL NOT NULL,
    "template_name" TEXT NOT NULL,
    "language" TEXT NOT NULL,
    "template" JSONB NOT NULL,
    "status" "TemplateBatchStatus" NOT NULL DEFAULT 'running',
    "total" INTEGER NOT NULL,
    "owner" TEXT,
    "heartbeat_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "completed_at" TIMESTAMPTZ(3),

    CONSTRAINT "template_batches_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "scope" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "response" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("scope","key")
);

-- CreateTable
CREATE TABLE "send_rate_slots" (
    "key" TEXT NOT NULL,
    "next_at" DOUBLE PRECISION NOT NULL,

    CONSTRAINT "send_rate_slots_pkey" PRIMARY KEY ("key")
);

-- CreateIndex
CREATE INDEX "template_batches_status_heartbeat_at_idx" ON "template_batches"("status", "heartbeat_at");

-- CreateIndex
CREATE INDEX "template_batches_created_at_idx" ON "template_batches"("created_at" DESC);

-- CreateIndex
CREATE INDEX "idempotency_keys_expires_at_idx" ON "idempotency_keys"("expires_at");

-- CreateIndex
CREATE INDEX "messages_batch_id_id_idx" ON "messages"("batch_id", "id");

-- CreateIndex
CREATE INDEX "messages_status_attempted_at_idx" ON "messages"("status", "attempted_at");

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "template_batches"("id") ON DELETE SET NULL ON UPDATE CASCADE;
