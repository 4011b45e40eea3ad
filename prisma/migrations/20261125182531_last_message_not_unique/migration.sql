-- DropIndex
DROP INDEX "conversations_last_message_id_key";
