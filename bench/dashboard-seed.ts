/**
 * Seeds the dashboard benchmark's database (bench/dashboard.ts), PostgreSQL only, run as a child
 * before anything else opens it. Opens it the way the service does (migrations applied), then
 * writes with plain SQL (generate_series) on one connection: `conversations` conversations and
 * `messages` messages in all (reaction rows included), the same shape at every size:
 *
 * - Conversations are ranked by their last activity (rank 0 newest; `last_message_at` = T0 − rank
 *   minutes, so the list order is the rank order). Rank r has the number 502 3000 0000 + r, so the
 *   load's inbound webhooks from senders 0..49 (bench/load-worker.ts) land in the hot ones.
 * - Ranks 0..49 are "hot": 110 messages each (one every 5 minutes), 1 in 3 inbound; types varied
 *   (text; image with a `media` row every 10th; location; interactive buttons, outbound), every
 *   7th a reply to the one before (`reply_to_message_id`/`reply_to_wamid`), and 3 reactions (type
 *   'reaction' message rows, plus their `reactions` rows: two by the customer, one by the business)
 *   to messages of the second page of 50. So a thread's first page is 50 messages, the page after
 *   it 50 more, with more to follow.
 * - Ranks 50..499: 5 text messages each. The rest (rank 500 on) are the history: they share the
 *   remaining messages (4 each at 1,000/10,000, about 10 at 100,000/1,000,000), 1 in 10 an image
 *   (with its `media` row) and, in every 5th of them, a reaction by the customer to its first
 *   message; all older than every message above. So what the reads touch (the first ~420 ranks) is
 *   identical at both sizes, and the tables they look things up in (messages, media, reactions)
 *   grow with the history.
 * - Outbound statuses cycle read/delivered/sent/failed (failed with Meta's error code and message);
 *   inbound messages are `delivered`, as the service stores them.
 * - Search: conversations with rank % 10 = 3 have the word `garantía` in one message (the middle
 *   one), never in a reaction. Last messages are outbound; their status is delivered or read
 *   alternately for those conversations (delivered at ranks 3, 23, 43, …), and cycles
 *   sent/delivered/read/failed by rank for the others. So `search: "garantía", lastMessageStatus:
 *   DELIVERED` matches every 20th conversation in list order from rank 3: 50 at 1,000
 *   conversations, 5,000 at 100,000; the 21st match is rank 403 at both sizes.
 *
 * Each conversation's last_message_id/last_message_at are its last non-reaction message, the
 * business number is the default one (so the service's start backfills nothing), then VACUUM ANALYZE.
 * Reads one JSON argument {databaseUrl, conversations, messages, businessPhoneNumberId}; prints
 * {seconds, hot: [conversation ids by rank], filteredMatches}.
 */
import pg from 'pg'
import { loadDatabaseConfig } from '../src/config.js'
import { openDatabase } from '../src/db/database.js'
import { DASHBOARD_SEED, type DashboardSeedResult } from './dashboard-shape.js'

const spec = JSON.parse(process.argv[2]) as {
  databaseUrl: string
  conversations: number
  messages: number
  businessPhoneNumberId: string
}
const started = performance.now()
const C = Math.trunc(spec.conversations)
const M = Math.trunc(spec.messages)
const {
  hot: HOT,
  hotMessages: HOT_N,
  hotReactions,
  recent: RECENT,
  recentMessages: RECENT_N,
  searchWord,
} = DASHBOARD_SEED
const tailConversations = C - RECENT
// One reaction in each history conversation whose rank is a multiple of 5.
const tailReactions = Math.floor((C - 1) / 5) - Math.floor((RECENT - 1) / 5)
const tailMessages = M - HOT * (HOT_N + hotReactions) - (RECENT - HOT) * RECENT_N - tailReactions
if (tailConversations < 1 || tailMessages < tailConversations) {
  throw new Error(`the dashboard seed needs more than ${RECENT} conversations and ~${RECENT * 12} messages`)
}

// Migrations applied the service's way.
const database = await openDatabase(loadDatabaseConfig({ DATABASE_URL: spec.databaseUrl }))
await database.close()

const client = new pg.Client({ connectionString: spec.databaseUrl })
await client.connect()
const sql = (text: string, values: unknown[] = []) => client.query(text, values)
const timings: string[] = []
const step = async (label: string, text: string, values: unknown[] = []) => {
  const t = performance.now()
  const r = await sql(text, values)
  timings.push(`${label} ${((performance.now() - t) / 1000).toFixed(1)} s`)
  return r
}
await sql(`SET work_mem = '256MB'`)
await sql(`SET maintenance_work_mem = '256MB'`)
const T0 = `(date_trunc('second', now()) - interval '10 minutes')`

// One row per conversation: rank, id, number of bubbles, spacing between them, last activity.
await step(
  'layout',
  `CREATE TEMP TABLE layout AS
   SELECT r, ${C} - r AS conversation_id,
     CASE WHEN r < ${HOT} THEN ${HOT_N} WHEN r < ${RECENT} THEN ${RECENT_N}
          ELSE ${Math.floor(tailMessages / tailConversations)} + (CASE WHEN r - ${RECENT} < ${tailMessages % tailConversations} THEN 1 ELSE 0 END)
     END AS n,
     CASE WHEN r < ${HOT} THEN interval '5 minutes' WHEN r < ${RECENT} THEN interval '2 hours' ELSE interval '1 day' END AS spacing,
     ${T0} - r * interval '1 minute' AS last_at,
     '502' || (30000000 + r)::text AS phone
   FROM generate_series(0, ${C - 1}) r`,
)
await step(
  'conversations',
  `INSERT INTO conversations (id, business_phone_number_id, phone_number, wa_id, contact_name, last_inbound_at, created_at, updated_at)
   SELECT conversation_id, $1, phone, phone, 'Cliente ' || r, last_at - spacing, last_at - n * spacing - interval '1 day', last_at
   FROM layout`,
  [spec.businessPhoneNumberId],
)
// Every message row (bubbles, then reactions 1 minute after their target), ids in time order.
await step(
  'staging',
  `CREATE TEMP TABLE staged AS
   SELECT row_number() OVER (ORDER BY created_at, r, j, reaction) AS id, s.*
   FROM (
     SELECT l.r, l.conversation_id, l.phone, g.j, l.n, l.last_at - (l.n - 1 - g.j) * l.spacing AS created_at,
            false AS reaction, NULL::text AS actor
     FROM layout l, generate_series(0, l.n - 1) g(j)
     UNION ALL
     SELECT l.r, l.conversation_id, l.phone, t.j, l.n, l.last_at - (l.n - 1 - t.j) * l.spacing + interval '1 minute',
            true, t.actor
     FROM layout l, (VALUES (30, 'customer'), (40, 'business'), (45, 'customer')) t(j, actor)
     WHERE l.r < ${HOT}
     UNION ALL
     SELECT l.r, l.conversation_id, l.phone, 0, l.n, l.last_at - (l.n - 1) * l.spacing + interval '1 minute', true, 'customer'
     FROM layout l WHERE l.r >= ${RECENT} AND l.r % 5 = 0
   ) s`,
)
// What each bubble is: type, direction, status.
await step(
  'kinds',
  `CREATE TEMP TABLE kinds AS
   SELECT s.id, s.r, s.j,
     k.type,
     CASE WHEN s.j = s.n - 1 OR k.type = 'interactive' THEN 'outbound' WHEN s.j % 3 = 1 THEN 'inbound' ELSE 'outbound' END AS direction
   FROM staged s,
     LATERAL (SELECT CASE
                WHEN s.j = s.n - 1 OR (s.r % 10 = 3 AND s.j = s.n / 2) THEN 'text' -- last, or the searched one
                WHEN s.r < ${HOT} THEN
                  (CASE s.j % 10 WHEN 4 THEN 'image' WHEN 7 THEN 'location' WHEN 9 THEN 'interactive' ELSE 'text' END)
                WHEN s.r >= ${RECENT} AND (s.j + s.r) % 10 = 4 THEN 'image'
                ELSE 'text' END AS type) k
   WHERE NOT s.reaction`,
)
await step('kinds index', `CREATE UNIQUE INDEX ON kinds (id)`)
await step(
  'media',
  `INSERT INTO media (id, source, status, mime_type, size, sha256, created_at, updated_at)
   SELECT 'med_dash_' || k.id, CASE k.direction WHEN 'inbound' THEN 'inbound' ELSE 'upload' END, 'ready', 'image/jpeg',
          150000 + (k.id % 1000) * 97, encode(sha256(k.id::text::bytea), 'hex'), s.created_at, s.created_at
   FROM kinds k JOIN staged s USING (id) WHERE k.type = 'image'`,
)
await step(
  'messages',
  `INSERT INTO messages (id, conversation_id, direction, type, content, status, wamid, payload, sent_by_customer_at,
     sent_at, delivered_at, read_at, failed_at, error_code, error_message, media_id, location, interactive,
     reply_to_wamid, reply_to_message_id, sent_by, created_at, updated_at)
   SELECT s.id, s.conversation_id, d.direction::"MessageDirection", d.type, d.content, d.status::"MessageStatus",
     'wamid.dash.' || s.id,
     CASE WHEN d.direction = 'inbound' THEN jsonb_build_object('from', s.phone, 'id', 'wamid.dash.' || s.id,
       'timestamp', extract(epoch FROM s.created_at)::bigint::text, 'type', d.type,
       d.type, CASE d.type WHEN 'reaction' THEN jsonb_build_object('message_id', 'wamid.dash.' || p.id, 'emoji', d.content)
                           WHEN 'image' THEN jsonb_build_object('id', 'meta-media-' || s.id, 'mime_type', 'image/jpeg')
                           ELSE jsonb_build_object('body', d.content) END) END,
     CASE WHEN d.direction = 'inbound' THEN s.created_at END,
     CASE WHEN d.direction = 'outbound' AND d.status <> 'failed' THEN s.created_at + interval '1 second' END,
     CASE WHEN d.direction = 'outbound' AND d.status IN ('delivered', 'read') THEN s.created_at + interval '3 seconds' END,
     CASE WHEN d.direction = 'outbound' AND d.status = 'read' THEN s.created_at + interval '40 seconds' END,
     CASE WHEN d.status = 'failed' THEN s.created_at + interval '2 seconds' END,
     CASE WHEN d.status = 'failed' THEN 131026 END,
     CASE WHEN d.status = 'failed' THEN 'Message undeliverable.' END,
     CASE WHEN d.type = 'image' THEN 'med_dash_' || s.id END,
     CASE WHEN d.type = 'location' THEN jsonb_build_object('latitude', 14.6349, 'longitude', -90.5069,
       'name', 'Oficina central', 'address', '6a Avenida 10-50, Zona 1, Guatemala') END,
     CASE WHEN d.type = 'interactive' THEN jsonb_build_object('type', 'button', 'header', 'Visita técnica',
       'body', d.content, 'footer', 'Responda con un botón',
       'buttons', jsonb_build_array(jsonb_build_object('id', 'confirm', 'title', 'Confirmar'),
                                    jsonb_build_object('id', 'reschedule', 'title', 'Cambiar fecha'))) END,
     CASE WHEN p.id IS NOT NULL THEN 'wamid.dash.' || p.id END,
     p.id,
     CASE WHEN d.direction = 'outbound' THEN 'dashboard' END,
     s.created_at, s.created_at
   FROM staged s
   LEFT JOIN kinds k ON k.id = s.id
   LEFT JOIN (SELECT st.r, st.j, st.id FROM staged st
              WHERE (st.r < ${HOT} OR (st.r >= ${RECENT} AND st.r % 5 = 0 AND st.j = 0)) AND NOT st.reaction) p
     ON p.r = s.r AND p.j = CASE WHEN s.reaction THEN s.j ELSE s.j - 1 END
        AND (s.reaction OR (s.r < ${HOT} AND s.j % 7 = 3 AND s.j < s.n - 1))
   CROSS JOIN LATERAL (
     SELECT
       CASE WHEN s.reaction THEN 'reaction' ELSE k.type END AS type,
       CASE WHEN s.reaction THEN (CASE s.actor WHEN 'customer' THEN 'inbound' ELSE 'outbound' END) ELSE k.direction END AS direction,
       CASE
         WHEN s.reaction THEN (ARRAY['👍', '❤️', '🙏'])[s.j % 3 + 1]
         WHEN k.type = 'image' THEN CASE WHEN s.j % 20 = 4 THEN 'Foto del equipo ' || s.j END
         WHEN k.type = 'location' THEN 'Oficina central'
         WHEN k.type = 'interactive' THEN '¿Confirmamos la visita del técnico para mañana?'
         WHEN s.r % 10 = 3 AND s.j = s.n / 2 THEN 'La reparación del aire acondicionado está cubierta por la ${searchWord} hasta marzo.'
         ELSE (ARRAY[
           'Hola, su técnico llegará entre las 10:00 y las 12:00.',
           'Buenos días, ¿a qué hora puede pasar el técnico?',
           'Le confirmamos la cita para el jueves por la mañana.',
           'Gracias, quedo pendiente de la visita.',
           'El repuesto llegó ayer; lo instalamos en la próxima visita.',
           'Su factura está disponible en el portal de clientes.'])[(s.j + s.r) % 6 + 1] || ' (' || s.j || ')'
       END AS content,
       CASE
         WHEN s.reaction THEN (CASE s.actor WHEN 'customer' THEN 'delivered' ELSE 'sent' END)
         WHEN s.j = s.n - 1 THEN
           CASE WHEN s.r % 10 = 3 THEN (CASE WHEN (s.r / 10) % 2 = 0 THEN 'delivered' ELSE 'read' END)
                ELSE (ARRAY['sent', 'delivered', 'read', 'failed'])[s.r % 4 + 1] END
         WHEN k.direction = 'inbound' THEN 'delivered'
         ELSE (CASE (s.j * 7 + s.r) % 10 WHEN 0 THEN 'read' WHEN 1 THEN 'read' WHEN 2 THEN 'read'
               WHEN 3 THEN 'delivered' WHEN 4 THEN 'delivered' WHEN 5 THEN 'delivered' WHEN 9 THEN 'failed' ELSE 'sent' END)
       END AS status
   ) d
   ORDER BY s.id`,
)
await step(
  'reactions',
  `INSERT INTO reactions (target_wamid, actor, emoji, reacted_at, wamid)
   SELECT m.reply_to_wamid, CASE m.direction WHEN 'inbound' THEN 'customer' ELSE 'business' END, m.content, m.created_at, m.wamid
   FROM messages m WHERE m.type = 'reaction'`,
)
await step(
  'last messages',
  `UPDATE conversations c SET last_message_id = s.id, last_message_at = s.created_at
   FROM staged s WHERE s.conversation_id = c.id AND s.j = s.n - 1 AND NOT s.reaction`,
)
await sql(`SELECT setval(pg_get_serial_sequence('conversations', 'id'), (SELECT max(id) FROM conversations))`)
await sql(`SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages))`)
await step('vacuum', `VACUUM (ANALYZE) conversations, messages, media, reactions`)
await sql('ANALYZE')

const hot = (
  await sql(`SELECT id FROM conversations ORDER BY last_message_at DESC NULLS LAST, id DESC LIMIT ${HOT}`)
).rows.map((r) => Number(r.id))
const filteredMatches = Number(
  (
    await sql(
      `SELECT count(*) AS n FROM conversations c JOIN messages l ON l.id = c.last_message_id AND l.status = 'delivered'
       WHERE EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.content ILIKE '%' || $1 || '%')`,
      [searchWord],
    )
  ).rows[0].n,
)
const counts = (await sql(`SELECT (SELECT count(*) FROM messages) AS m, (SELECT count(*) FROM conversations) AS c`))
  .rows[0]
await client.end()
const result: DashboardSeedResult = {
  seconds: (performance.now() - started) / 1000,
  hot,
  filteredMatches,
  messages: Number(counts.m),
  conversations: Number(counts.c),
}
process.stderr.write(`dashboard seed ${C}/${M}: ${timings.join(', ')}\n`)
// Exit at once: something the service's database module started keeps the loop alive ~10 s.
process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0))
