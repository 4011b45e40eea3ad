-- AlterTable
ALTER TABLE "idempotency_keys" ADD COLUMN     "lease_until" TIMESTAMPTZ(3),
ADD COLUMN     "progress" JSONB;
