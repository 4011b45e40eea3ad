-- CreateEnum
CREATE TYPE "WebhookEventStatus" AS ENUM ('received', 'applied', 'failed');

-- AlterTable
ALTER TABLE "conversations" ADD COLUMN     "contact_name" TEXT,
ADD COLUMN     "last_inbound_at" TIMESTAMPTZ(3),
ADD COLUMN     "wa_user_id" TEXT,
ALTER COLUMN "phone_number" DROP NOT NULL;

-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "delivered_at" TIMESTAMPTZ(3),
ADD COLUMN     "failed_at" TIMESTAMPTZ(3),
ADD COLUMN     "payload" JSONB,
ADD COLUMN     "read_at" TIMESTAMPTZ(3),
ADD COLUMN     "sent_at" TIMESTAMPTZ(3),
ADD COLUMN     "sent_by_customer_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "webhook_events" (
    "id" SERIAL NOT NULL,
    "body" TEXT NOT NULL,
    "status" "WebhookEventStatus" NOT NULL DEFAULT 'received',
    "error" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "applied_at" TIMESTAMPTZ(3),

    CONSTRAINT "webhook_events_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "pending_statuses" (
    "id" SERIAL NOT NULL,
    "wamid" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "timestamp" TIMESTAMPTZ(3) NOT NULL,
    "errors" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pending_statuses_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "webhook_events_status_id_idx" ON "webhook_events"("status", "id");

-- CreateIndex
CREATE INDEX "pending_statuses_wamid_idx" ON "pending_statuses"("wamid");

-- CreateIndex
CREATE UNIQUE INDEX "conversations_wa_user_id_key" ON "conversations"("wa_user_id");
