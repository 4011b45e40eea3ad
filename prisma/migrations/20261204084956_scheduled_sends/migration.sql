-- CreateEnum
CREATE TYPE "ScheduledSendStatus" AS ENUM ('scheduled', 'sending', 'sent', 'failed', 'cancelled');

-- AlterTable
ALTER TABLE "templates" ADD COLUMN     "status_reason" TEXT;

-- CreateTable
CREATE TABLE "scheduled_sends" (
    "id" SERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "request" JSONB NOT NULL,
    "phone_number" TEXT,
    "conversation_id" INTEGER,
    "template_name" TEXT,
    "language" TEXT,
    "send_at" TIMESTAMPTZ(3) NOT NULL,
    "status" "ScheduledSendStatus" NOT NULL DEFAULT 'scheduled',
    "owner" TEXT,
    "lease_until" TIMESTAMPTZ(3),
    "sent_at" TIMESTAMPTZ(3),
    "late" BOOLEAN NOT NULL DEFAULT false,
    "completed_at" TIMESTAMPTZ(3),
    "message_id" INTEGER,
    "batch_id" INTEGER,
    "error_code" TEXT,
    "error_message" TEXT,
    "error_details" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "scheduled_sends_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "scheduled_sends_status_send_at_idx" ON "scheduled_sends"("status", "send_at");

-- CreateIndex
CREATE INDEX "scheduled_sends_template_name_language_idx" ON "scheduled_sends"("template_name", "language");
