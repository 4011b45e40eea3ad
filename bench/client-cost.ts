/**
 * What one call to Meta costs this process in CPU: the service's own Meta client
 * (MetaGraphClient, one `got` instance), or node:http with a keep-alive agent, posting the same
 * template sends to the fake Meta from `concurrency` loops. Reads one JSON argument, prints one
 * JSON line: {requests, failed, cpuUsPerRequest, rps}.
 *
 * Part of the send-path benchmark: it shows how much of the service's CPU per send the HTTP
 * client alone takes, against the leanest client Node.js has.
 */
import http from 'node:http'
import { metaRequests, type OutgoingTemplate } from '../src/meta/meta.api.js'
import { fakeMetaClient, type FakeMetaSpec } from './fake-meta-client.js'

const spec = JSON.parse(process.argv[2]) as FakeMetaSpec & {
  client: 'got' | 'node:http'
  requests: number
  concurrency: number
}

const template: OutgoingTemplate = {
  name: 'bench_notice', // the fake Meta's template (bench/fake-meta-process.ts)
  language: 'es',
  components: [{ type: 'body', parameters: [{ type: 'text', text: 'Juan Pérez' }] }],
}
const phone = (i: number) => `502${String(30_000_000 + (i % 1000)).padStart(8, '0')}`

const meta = fakeMetaClient(spec)
const agent = new http.Agent({ keepAlive: true })
const url = `${spec.graphApiUrl}/${spec.apiVersion}/${spec.phoneNumberId}/messages`

function viaNodeHttp(i: number): Promise<string> {
  const body = JSON.stringify(metaRequests.template(phone(i), template, { messageId: i + 1 }))
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${spec.accessToken}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          const wamid = (JSON.parse(text) as { messages?: { id: string }[] }).messages?.[0]?.id
          if (res.statusCode === 200 && wamid) resolve(wamid)
          else reject(new Error(`HTTP ${res.statusCode}`))
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const send = (i: number) =>
  spec.client === 'got'
    ? meta.sendTemplate(phone(i), template, { messageId: i + 1 }).then((m) => m.wamid)
    : viaNodeHttp(i)

async function run(requests: number): Promise<number> {
  let next = 0
  let failed = 0
  const loop = async () => {
    while (next < requests) {
      await send(next++).catch(() => failed++)
    }
  }
  await Promise.all(Array.from({ length: spec.concurrency }, loop))
  return failed
}

await run(Math.min(2_000, spec.requests)) // warm-up: sockets open, code optimised
const cpu = process.cpuUsage()
const started = performance.now()
const failed = await run(spec.requests)
const used = process.cpuUsage(cpu)
const seconds = (performance.now() - started) / 1000
agent.destroy()
process.stdout.write(
  `${JSON.stringify({
    requests: spec.requests,
    failed,
    cpuUsPerRequest: (used.user + used.system) / spec.requests,
    rps: spec.requests / seconds,
  })}\n`,
)
process.exit(0)
