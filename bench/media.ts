/**
 * The media benchmark (`npm run bench -- --only media`): upload and download of a 100 MiB document,
 * several at once, against the service in production mode and against a plain file copy over
 * loopback (bench/media-baseline.ts), with the service's peak RSS against its idle RSS.
 *
 * The document (`%PDF-1.7\n` then random bytes) is written once per database to a temporary folder.
 * The client streams it: a multipart/form-data body framed by hand (preamble, the file's stream,
 * epilogue) with an exact Content-Length, one connection per request; downloads are hashed and
 * counted as they arrive, never kept. Throughput is the batch's bytes over its wall time. The peak
 * RSS of each phase is the kernel's high-water mark (VmHWM, reset through /proc/<pid>/clear_refs just
 * before the phase) together with a 50 ms sampling of VmRSS; idle RSS is the median of VmRSS over
 * 2 s once the service is up and the machine quiet, before any media request.
 *
 * Runs in the orchestrator (bench/run.ts), which passes how to start the service.
 */
import type { ChildProcess } from 'node:child_process'
import { createHash, randomBytes, randomFillSync } from 'node:crypto'
import { closeSync, createReadStream, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import {
  API_TOKEN,
  cpuSecondsOf,
  cpuTicks,
  postgresCpuSeconds,
  firstJsonLine,
  fmt,
  median,
  type Row,
  rssOf,
  sleep,
  spawnScript,
  stop,
  verdict,
  waitQuiet,
} from './lib.js'

const MiB = 1024 * 1024
const DOCUMENT_BYTES = 100 * MiB
const MIME = 'application/pdf'
const RSS_ABOVE_IDLE_LIMIT_MB = 50
const RATIO_TARGET = 0.5
/** A request that moves no byte for this long fails (so that a stuck endpoint fails the run, never hangs it). */
const IDLE_TIMEOUT_MS = 60_000
const PATH = '/api/whatsapp/media'

/** What the orchestrator's startService gives back (bench/services.ts's Service, as far as this needs it). */
export interface MediaService {
  url: string
  child: ChildProcess
  tail: string[]
  stop(): Promise<{ exitMs: number; peakRss: number }>
}

export interface MediaBenchOptions {
  db: string
  /** Runs per measurement (at most 3 are made: each moves 2 × N × 100 MiB per server). */
  runs: number
  quick: boolean
  log: (...args: unknown[]) => void
  /** Starts the service in production mode, its RSS sampled (bench/services.ts's startService). */
  startService: (label: string) => Promise<MediaService>
}

export interface MediaSummary {
  db: string
  bench: string
  rows: Row[]
  peakRss: number
  extra?: Record<string, unknown>
}

interface Document {
  path: string
  size: number
  sha256: string
}

/** A server under test: the service or the baseline. */
interface Target {
  name: string
  kind: 'service' | 'baseline'
  url: string
  child: ChildProcess
  tail: string[]
}

/** A failure worth stopping the scenario for, with a message that says what went wrong. */
class MediaBenchError extends Error {}

// ---------------------------------------------------------------------------------------------
// The document

/** Writes `%PDF-1.7\n` and then random bytes, `size` in all, hashing as it goes. */
function writeDocument(file: string, size: number): Document {
  const hash = createHash('sha256')
  const fd = openSync(file, 'w')
  try {
    const chunk = Buffer.alloc(Math.min(size, MiB))
    let written = 0
    while (written < size) {
      const piece = chunk.subarray(0, Math.min(chunk.length, size - written))
      randomFillSync(piece)
      if (written === 0) piece.write('%PDF-1.7\n', 'latin1')
      hash.update(piece)
      writeSync(fd, piece)
      written += piece.length
    }
  } finally {
    closeSync(fd)
  }
  return { path: file, size, sha256: hash.digest('hex') }
}

// ---------------------------------------------------------------------------------------------
// The client

/** Up to `limit` bytes of a response body (an error answer, a JSON result), as text. */
async function bodyText(res: http.IncomingMessage, limit = 64 * 1024): Promise<string> {
  let text = ''
  for await (const chunk of res) {
    if (text.length < limit) text += (chunk as Buffer).toString('utf8')
  }
  return text.slice(0, limit)
}

/** What a failed request says, with the process's state when it looks like the process is gone. */
function describeFailure(target: Target, what: string, detail: string): MediaBenchError {
  const exited = target.child.exitCode !== null || target.child.signalCode !== null
  const gone = exited
    ? ` — ${target.name} exited (${target.child.exitCode ?? target.child.signalCode}); its last lines:\n${target.tail.join('\n')}`
    : ''
  return new MediaBenchError(`${what} on ${target.name}: ${detail}${gone}`)
}

interface Uploaded {
  mediaId: string
  size: number
  sha256?: string
  mimeType?: string
}

/** One streaming multipart upload of `doc`: preamble, the file's stream, epilogue; exact Content-Length. */
function upload(target: Target, doc: Document, filename = 'bench-document.pdf'): Promise<Uploaded> {
  const boundary = `----wa-bench-${randomBytes(16).toString('hex')}`
  const preamble = Buffer.from(
    `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
      `Content-Type: ${MIME}\r\n\r\n`,
  )
  const epilogue = Buffer.from(`\r\n--${boundary}--\r\n`)
  const contentLength = preamble.length + doc.size + epilogue.length
  const what = `POST ${PATH}`
  return new Promise<Uploaded>((resolve, reject) => {
    let settled = false
    let bodySent = false
    const file = createReadStream(doc.path, { highWaterMark: 256 * 1024 })
    const req = http.request(`${target.url}${PATH}`, {
      method: 'POST',
      agent: false,
      headers: {
        authorization: `Bearer ${API_TOKEN}`,
        'content-type': `multipart/form-data; boundary=${boundary}`,
        'content-length': String(contentLength),
      },
    })
    const fail = (err: Error) => {
      if (settled) return
      settled = true
      file.destroy()
      req.destroy()
      reject(err instanceof MediaBenchError ? err : describeFailure(target, what, err.message))
    }
    req.setTimeout(IDLE_TIMEOUT_MS, () => fail(new Error(`nothing moved for ${IDLE_TIMEOUT_MS / 1000} s`)))
    req.on('error', fail)
    file.on('error', fail)
    req.on('response', (res) => {
      res.on('error', fail)
      bodyText(res)
        .then((text) => {
          if (settled) return
          if (res.statusCode !== 200) {
            const hint = res.statusCode === 404 ? ' (is the media endpoint there yet?)' : ''
            return fail(describeFailure(target, what, `answered ${res.statusCode}${hint}: ${text.slice(0, 500)}`))
          }
          if (!bodySent) return fail(describeFailure(target, what, `answered 200 before the whole body was sent`))
          let body: {
            success?: boolean
            data?: { media_id?: unknown; size?: unknown; sha256?: unknown; mime_type?: unknown }
          }
          try {
            body = JSON.parse(text)
          } catch {
            return fail(
              describeFailure(target, what, `answered 200 with something other than JSON: ${text.slice(0, 500)}`),
            )
          }
          const data = body.data
          if (body.success !== true || !data || typeof data.media_id !== 'string')
            return fail(describeFailure(target, what, `unexpected answer: ${text.slice(0, 500)}`))
          settled = true
          resolve({
            mediaId: data.media_id,
            size: Number(data.size),
            sha256: typeof data.sha256 === 'string' ? data.sha256 : undefined,
            mimeType: typeof data.mime_type === 'string' ? data.mime_type : undefined,
          })
        })
        .catch(fail)
    })
    req.write(preamble)
    file.pipe(req, { end: false })
    file.once('end', () => {
      bodySent = true
      req.end(epilogue)
    })
  })
}

interface Downloaded {
  bytes: number
  sha256: string
  contentLength: number | null
  contentType: string | undefined
  etag: string | undefined
}

/** One streaming download, hashed and counted as it arrives (to nowhere, like /dev/null). */
function download(target: Target, mediaId: string): Promise<Downloaded> {
  const what = `GET ${PATH}/${mediaId}`
  return new Promise<Downloaded>((resolve, reject) => {
    let settled = false
    const req = http.get(`${target.url}${PATH}/${encodeURIComponent(mediaId)}`, {
      agent: false,
      headers: { authorization: `Bearer ${API_TOKEN}` },
    })
    const fail = (err: Error) => {
      if (settled) return
      settled = true
      req.destroy()
      reject(err instanceof MediaBenchError ? err : describeFailure(target, what, err.message))
    }
    req.setTimeout(IDLE_TIMEOUT_MS, () => fail(new Error(`nothing moved for ${IDLE_TIMEOUT_MS / 1000} s`)))
    req.on('error', fail)
    req.on('response', (res) => {
      res.on('error', fail)
      res.on('aborted', () => fail(new Error('the response was cut short')))
      if (res.statusCode !== 200) {
        const hint = res.statusCode === 404 ? ' (is the media endpoint there yet?)' : ''
        bodyText(res)
          .then((text) =>
            fail(describeFailure(target, what, `answered ${res.statusCode}${hint}: ${text.slice(0, 500)}`)),
          )
          .catch(fail)
        return
      }
      const hash = createHash('sha256')
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        hash.update(chunk)
        bytes += chunk.length
      })
      res.on('end', () => {
        if (settled) return
        if (!res.complete) return fail(new Error('the response was cut short'))
        settled = true
        const length = res.headers['content-length']
        resolve({
          bytes,
          sha256: hash.digest('hex'),
          contentLength: length === undefined ? null : Number(length),
          contentType: res.headers['content-type'],
          etag: res.headers.etag,
        })
      })
    })
  })
}

/** Checks an upload's answer against the document it sent. */
function checkUploaded(target: Target, doc: Document, u: Uploaded): void {
  const problems: string[] = []
  if (u.size !== doc.size) problems.push(`size ${u.size}, sent ${doc.size}`)
  if (target.kind === 'service') {
    if (!u.mediaId.startsWith('med_')) problems.push(`media_id ${u.mediaId} (expected med_…)`)
    if (u.sha256 !== doc.sha256) problems.push(`sha256 ${u.sha256}, sent ${doc.sha256}`)
    if (u.mimeType !== MIME) problems.push(`mime_type ${u.mimeType}, sent ${MIME}`)
  }
  if (problems.length) throw describeFailure(target, `POST ${PATH}`, `wrong answer: ${problems.join('; ')}`)
}

const warned = new Set<string>()
/** Checks a download against the document; missing headers only warn (this is a benchmark, not the tests). */
function checkDownloaded(target: Target, doc: Document, id: string, d: Downloaded, log: MediaBenchOptions['log']) {
  const problems: string[] = []
  if (d.bytes !== doc.size) problems.push(`${d.bytes} bytes, uploaded ${doc.size}`)
  else if (d.sha256 !== doc.sha256) problems.push(`sha256 ${d.sha256}, uploaded ${doc.sha256}`)
  if (d.contentLength !== null && d.contentLength !== doc.size) problems.push(`Content-Length ${d.contentLength}`)
  if (problems.length) throw describeFailure(target, `GET ${PATH}/${id}`, `wrong bytes: ${problems.join('; ')}`)
  const warnings: string[] = []
  if (d.contentLength === null) warnings.push('no Content-Length')
  if (!d.contentType?.startsWith(MIME)) warnings.push(`Content-Type ${d.contentType}`)
  if (target.kind === 'service' && !d.etag) warnings.push('no ETag')
  const key = `${target.name}: ${warnings.join(', ')}`
  if (warnings.length && !warned.has(key)) {
    warned.add(key)
    log(`  WARNING: GET ${PATH}/:id on ${key}`)
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** Resets the process's VmHWM to its current RSS (Linux ≥ 4.0); false where that is not allowed. */
function resetPeak(pid: number): boolean {
  try {
    const fd = openSync(`/proc/${pid}/clear_refs`, 'w')
    try {
      writeSync(fd, '5')
    } finally {
      closeSync(fd)
    }
    return true
  } catch {
    return false
  }
}

/** The median of VmRSS over `ms` (MB). */
async function idleRss(pid: number, ms = 2000): Promise<number> {
  const xs: number[] = []
  for (let t = 0; t < ms; t += 100) {
    const r = rssOf(pid)
    if (r) xs.push(r.rss)
    await sleep(100)
  }
  return median(xs)
}

interface Phase {
  seconds: number
  mbPerSecond: number
  /** The process's peak RSS during the phase (MB). */
  peakRss: number
  cpuSeconds: number
  /** CPU time of every PostgreSQL process during the phase (what storing in the database costs there). */
  postgresCpuSeconds: number
  /** How busy the machine's cores were, 0 to 1. */
  busy: number
}

/** Runs `work` (moving `bytes`) and measures the wall time, the process's CPU time and its peak RSS. */
async function phase(target: Target, bytes: number, work: () => Promise<void>): Promise<Phase> {
  const pid = target.child.pid!
  const hwmReset = resetPeak(pid)
  let peak = rssOf(pid)?.rss ?? 0
  const sampler = setInterval(() => {
    const r = rssOf(pid)
    if (r) peak = Math.max(peak, r.rss)
  }, 50)
  const cpu0 = cpuSecondsOf(pid) ?? NaN
  const pg0 = postgresCpuSeconds()
  const ticks0 = cpuTicks()
  const t0 = performance.now()
  try {
    await work()
  } finally {
    clearInterval(sampler)
  }
  const seconds = (performance.now() - t0) / 1000
  const cpu1 = cpuSecondsOf(pid) ?? NaN
  const ticks1 = cpuTicks()
  const r = rssOf(pid)
  if (r) peak = Math.max(peak, r.rss, hwmReset ? r.hwm : 0)
  return {
    seconds,
    mbPerSecond: bytes / MiB / seconds,
    peakRss: peak,
    cpuSeconds: cpu1 - cpu0,
    postgresCpuSeconds: postgresCpuSeconds() - pg0,
    busy: 1 - (ticks1.idle - ticks0.idle) / (ticks1.total - ticks0.total),
  }
}

interface Round {
  upload: Phase
  download: Phase
}

/** N uploads of `doc` at once, then N downloads of what they stored at once, each checked. */
async function round(target: Target, doc: Document, concurrency: number, options: MediaBenchOptions): Promise<Round> {
  const quietMs = options.quick ? 5_000 : 20_000
  const bytes = doc.size * concurrency
  let ids: string[] = []
  await waitQuiet(quietMs)
  const up = await phase(target, bytes, async () => {
    const answers = await Promise.all(Array.from({ length: concurrency }, () => upload(target, doc)))
    for (const a of answers) checkUploaded(target, doc, a)
    ids = answers.map((a) => a.mediaId)
  })
  await waitQuiet(quietMs)
  const down = await phase(target, bytes, async () => {
    const answers = await Promise.all(ids.map((id) => download(target, id)))
    answers.forEach((d, i) => checkDownloaded(target, doc, ids[i], d, options.log))
  })
  return { upload: up, download: down }
}

async function startBaseline(dir: string): Promise<Target & { stop(): Promise<number> }> {
  const child = spawnScript('media-baseline', [], { env: { MEDIA_DIR: dir }, inheritStderr: false })
  const tail: string[] = []
  const announced = firstJsonLine<{ url: string }>(child, 'media baseline', 60_000)
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue
    createInterface({ input: stream }).on('line', (line) => {
      tail.push(line)
      if (tail.length > 20) tail.shift()
    })
  }
  const { url } = await announced.catch((err: Error) => {
    child.kill('SIGKILL')
    throw new Error(`${err.message}\n${tail.join('\n')}`)
  })
  return { name: 'the baseline', kind: 'baseline', url, child, tail, stop: () => stop(child) }
}

// ---------------------------------------------------------------------------------------------
// The benchmark

export async function benchMedia(options: MediaBenchOptions): Promise<MediaSummary> {
  const { db, log, quick } = options
  const concurrency = quick ? 2 : 3
  const runs = Math.max(1, Math.min(options.runs, 3))
  const bench = `Media: upload and download of a 100 MiB document, ${concurrency} at once, against a plain file copy over loopback`
  log(`media upload/download on ${db}: ${runs} run(s), ${concurrency} × 100 MiB each way`)
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wa-bench-media-'))
  const store = path.join(dir, 'baseline-store')
  mkdirSync(store)
  let service: MediaService | null = null
  let baseline: Awaited<ReturnType<typeof startBaseline>> | null = null
  let peakRss = 0
  try {
    const doc = writeDocument(path.join(dir, 'document.pdf'), DOCUMENT_BYTES)
    const probe = writeDocument(path.join(dir, 'probe.pdf'), 64 * 1024)
    service = await options.startService(`media-${db}`)
    baseline = await startBaseline(store)
    const svc: Target = {
      name: 'the service',
      kind: 'service',
      url: service.url,
      child: service.child,
      tail: service.tail,
    }

    // Idle: once started and the machine is quiet, before any media request.
    await waitQuiet(quick ? 5_000 : 20_000)
    const [idle, baselineIdle] = await Promise.all([idleRss(svc.child.pid!), idleRss(baseline.child.pid!)])
    log(`  idle RSS: service ${fmt(idle)} MB, baseline ${fmt(baselineIdle)} MB`)

    // A small file first: a missing or broken endpoint fails here, in a second, not after 100s of MB.
    for (const target of [svc, baseline]) {
      const u = await upload(target, probe, 'probe.pdf')
      checkUploaded(target, probe, u)
      checkDownloaded(target, probe, u.mediaId, await download(target, u.mediaId), log)
    }

    const measured: { service: Round; baseline: Round }[] = []
    for (let i = 0; i < runs; i++) {
      const s = await round(svc, doc, concurrency, options)
      const b = await round(baseline, doc, concurrency, options)
      for (const f of readdirSync(store)) rmSync(path.join(store, f), { force: true })
      measured.push({ service: s, baseline: b })
      log(
        `  run ${i + 1}: upload ${fmt(s.upload.mbPerSecond)} MB/s (baseline ${fmt(b.upload.mbPerSecond)}), download ${fmt(s.download.mbPerSecond)} MB/s (baseline ${fmt(b.download.mbPerSecond)}); service peak RSS ${fmt(s.upload.peakRss)} MB uploading, ${fmt(s.download.peakRss)} MB downloading (idle ${fmt(idle)})`,
      )
    }

    const rows: Row[] = []
    const of = (who: 'service' | 'baseline', dir: 'upload' | 'download', key: keyof Phase) =>
      measured.map((m) => m[who][dir][key])
    const runsText = (xs: number[]) => xs.map((x) => fmt(x)).join('/')
    for (const direction of ['upload', 'download'] as const) {
      const s = median(of('service', direction, 'mbPerSecond'))
      const b = median(of('baseline', direction, 'mbPerSecond'))
      const ratio = s / b
      rows.push({
        metric: `${direction}: MB/s (${concurrency} × 100 MiB at once; baseline: plain file copy)`,
        value: fmt(s),
        baseline: fmt(b),
        ratio: ratio.toFixed(2),
        target: `≥ ${RATIO_TARGET}`,
        verdict: verdict(ratio >= RATIO_TARGET),
        runs: runsText(of('service', direction, 'mbPerSecond')),
      })
      const cpu = (who: 'service' | 'baseline') =>
        median(of(who, direction, 'cpuSeconds').map((c) => c / ((doc.size * concurrency) / (100 * MiB))))
      rows.push({
        metric: `${direction}: server CPU s per 100 MiB`,
        value: fmt(cpu('service'), 2),
        baseline: fmt(cpu('baseline'), 2),
      })
      if (options.db === 'postgres') {
        // What bounds the service on two cores: PostgreSQL's own CPU for the same bytes.
        const pgCpu = median(
          of('service', direction, 'postgresCpuSeconds').map((c) => c / ((doc.size * concurrency) / (100 * MiB))),
        )
        rows.push({ metric: `${direction}: PostgreSQL CPU s per 100 MiB`, value: fmt(pgCpu, 2) })
      }
      rows.push({
        metric: `${direction}: machine busy % (service run / baseline run)`,
        value: fmt(100 * median(of('service', direction, 'busy'))),
        baseline: fmt(100 * median(of('baseline', direction, 'busy'))),
      })
    }
    const peaks = measured.map((m) => Math.max(m.service.upload.peakRss, m.service.download.peakRss))
    const above = Math.max(...peaks) - idle
    rows.push({
      metric: `service peak RSS above idle MB (highest run; idle ${fmt(idle)} MB)`,
      value: fmt(above),
      baseline: fmt(
        Math.max(...measured.map((m) => Math.max(m.baseline.upload.peakRss, m.baseline.download.peakRss))) -
          baselineIdle,
      ),
      target: `< ${RSS_ABOVE_IDLE_LIMIT_MB}`,
      verdict: verdict(above < RSS_ABOVE_IDLE_LIMIT_MB),
      runs: runsText(peaks.map((p) => p - idle)),
    })
    for (const direction of ['upload', 'download'] as const) {
      rows.push({
        metric: `${direction}: service peak RSS MB`,
        value: fmt(Math.max(...of('service', direction, 'peakRss'))),
        baseline: fmt(Math.max(...of('baseline', direction, 'peakRss'))),
        runs: runsText(of('service', direction, 'peakRss')),
      })
    }
    const stopped = await service.stop()
    service = null
    peakRss = stopped.peakRss
    return { db, bench, rows, peakRss, extra: { idleRss: idle, baselineIdleRss: baselineIdle, measured } }
  } catch (err) {
    const message = (err as Error).message
    log(`  media benchmark failed: ${message}`)
    if (service) {
      peakRss = (await service.stop()).peakRss
      service = null
    }
    const firstLine = message.split('\n')[0]
    return {
      db,
      bench,
      rows: [
        {
          metric: `scenario failed: ${firstLine.length > 300 ? `${firstLine.slice(0, 300)}…` : firstLine}`,
          value: '—',
          verdict: 'MISS',
        },
      ],
      peakRss,
      extra: { error: message },
    }
  } finally {
    if (service) await service.stop()
    if (baseline) await baseline.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}
