-- CreateEnum
CREATE TYPE "MediaStatus" AS ENUM ('uploading', 'downloading', 'ready', 'failed', 'remote');

-- AlterTable
ALTER TABLE "conversations" ADD COLUMN     "last_read_at" TIMESTAMPTZ(3),
ADD COLUMN     "last_read_message_id" INTEGER;

-- AlterTable
ALTER TABLE "messages" ADD COLUMN     "contacts" JSONB,
ADD COLUMN     "filename" TEXT,
ADD COLUMN     "interactive" JSONB,
ADD COLUMN     "location" JSONB,
ADD COLUMN     "media_id" TEXT,
ADD COLUMN     "reply_to_message_id" INTEGER,
ADD COLUMN     "reply_to_wamid" TEXT;

-- CreateTable
CREATE TABLE "media" (
    "id" TEXT NOT NULL,
    "source" TEXT NOT NULL,
    "status" "MediaStatus" NOT NULL,
    "mime_type" TEXT,
    "size" INTEGER,
    "sha256" TEXT,
    "filename" TEXT,
    "link" TEXT,
    "meta_media_id" TEXT,
    "meta_uploaded_at" TIMESTAMPTZ(3),
    "expected_sha256" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3),
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "media_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "media_chunks" (
    "media_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,

    CONSTRAINT "media_chunks_pkey" PRIMARY KEY ("media_id","seq")
);

-- CreateTable
CREATE TABLE "reactions" (
    "target_wamid" TEXT NOT NULL,
    "actor" TEXT NOT NULL,
    "emoji" TEXT,
    "reacted_at" TIMESTAMPTZ(3) NOT NULL,
    "wamid" TEXT,

    CONSTRAINT "reactions_pkey" PRIMARY KEY ("target_wamid","actor")
);

-- CreateIndex
CREATE INDEX "media_status_next_attempt_at_idx" ON "media"("status", "next_attempt_at");

-- AddForeignKey
ALTER TABLE "messages" ADD CONSTRAINT "messages_media_id_fkey" FOREIGN KEY ("media_id") REFERENCES "media"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "media_chunks" ADD CONSTRAINT "media_chunks_media_id_fkey" FOREIGN KEY ("media_id") REFERENCES "media"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Media arrive compressed already (JPEG, MP4, Opus, PDF): storing them uncompressed spares the
-- CPU that PostgreSQL's TOAST compression would spend on every chunk for nothing.
ALTER TABLE "media_chunks" ALTER COLUMN "data" SET STORAGE EXTERNAL;
