-- AlterTable
ALTER TABLE "scheduled_sends" ADD COLUMN     "business_phone_number_id" TEXT;
