/**
 * Seeds a benchmark database (run as a child, before the service opens it: PGlite allows one
 * process per data folder). Opens it the way the service does (migrations applied), then writes
 * `conversations` conversations with `messages` outbound text messages between them (status
 * `sent`, wamids `wamid.bench.<n>`, numbers 502 3000 0000 + i), each conversation's last message
 * set. Reads one JSON argument {databaseUrl, conversations, messages}; prints {seconds}.
 */
import { loadDatabaseConfig } from '../src/config.js'
import { openDatabase } from '../src/db/database.js'

const spec = JSON.parse(process.argv[2]) as { databaseUrl: string; conversations: number; messages: number }
const started = performance.now()
const database = await openDatabase(loadDatabaseConfig({ DATABASE_URL: spec.databaseUrl }))
const sql = (text: string) => database.prisma.$executeRawUnsafe(text)
const C = Math.trunc(spec.conversations)
const N = Math.trunc(spec.messages)

await sql(`
  INSERT INTO conversations (phone_number, contact_name, last_inbound_at, created_at, updated_at)
  SELECT '502' || (30000000 + g)::text, 'Cliente ' || g, now() - interval '1 hour', now() - interval '1 day', now()
  FROM generate_series(0, ${C - 1}) g`)
await sql(`
  INSERT INTO messages (conversation_id, direction, type, content, status, wamid, sent_at, created_at, updated_at)
  SELECT first.id + ((g - 1) % ${C}), 'outbound', 'text',
         'Mensaje ' || g || ': su técnico llegará entre las 10:00 y las 12:00.', 'sent', 'wamid.bench.' || g,
         now() - (${N} - g) * interval '1 second', now() - (${N} - g) * interval '1 second', now()
  FROM generate_series(1, ${N}) g, (SELECT min(id) AS id FROM conversations) first`)
await sql(`
  UPDATE conversations c SET last_message_id = m.max_id, last_message_at = m.max_at
  FROM (SELECT conversation_id, max(id) AS max_id, max(created_at) AS max_at FROM messages GROUP BY conversation_id) m
  WHERE m.conversation_id = c.id`)
await sql('ANALYZE')
await database.close()
process.stdout.write(`${JSON.stringify({ seconds: (performance.now() - started) / 1000 })}\n`)
