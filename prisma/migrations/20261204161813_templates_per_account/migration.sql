-- DropIndex
DROP INDEX "templates_name_language_key";

-- AlterTable
ALTER TABLE "templates" ADD COLUMN     "business_account_id" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "templates_business_account_id_name_language_key" ON "templates"("business_account_id", "name", "language");
