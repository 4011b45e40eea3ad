-- AlterTable
ALTER TABLE "template_batches" ADD COLUMN     "business_phone_number_id" TEXT;
