-- AlterTable
ALTER TABLE "send_rate_slots" ADD COLUMN     "owner" TEXT,
ADD COLUMN     "owner_exclusive" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "owner_next_at" DOUBLE PRECISION,
ADD COLUMN     "shared_until" DOUBLE PRECISION NOT NULL DEFAULT 0;
