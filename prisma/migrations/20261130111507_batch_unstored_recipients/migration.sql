-- AlterTable
ALTER TABLE "template_batches" ADD COLUMN     "unstored" JSONB;
