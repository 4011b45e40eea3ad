import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises'
import { once } from 'node:events'
import os from 'node:os'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import { assertMediaId, Measure, type MediaStore } from './media.store.js'

/**
 * Files in a folder beside the embedded database's data folder (`data/pglite` → `data/pglite-media`),
 * one per media id, written under a temporary name and renamed once whole. The embedded database
 * runs in one process, so one folder serves every request; it also keeps large files out of the
 * database's WebAssembly memory, which never shrinks.
 */
export class FileMediaStore implements MediaStore {
  private constructor(
    private readonly dir: string,
    /** A throw-away folder (an in-memory database) is removed on close. */
    private readonly temporary: boolean,
  ) {}

  /** The folder beside `dataDir`, or a temporary one for an in-memory database. */
  static async beside(dataDir: string | null): Promise<FileMediaStore> {
    if (!dataDir) return new FileMediaStore(await mkdtemp(path.join(os.tmpdir(), 'wa-gateway-media-')), true)
    const dir = path.join(path.dirname(dataDir), `${path.basename(dataDir)}-media`)
    await mkdir(dir, { recursive: true })
    return new FileMediaStore(dir, false)
  }

  private pathOf(mediaId: string, suffix = '') {
    assertMediaId(mediaId)
    return path.join(this.dir, `${mediaId}${suffix}`)
  }

  async write(mediaId: string, source: AsyncIterable<Uint8Array>, maxBytes: number) {
    const partial = this.pathOf(mediaId, '.part')
    const out = createWriteStream(partial)
    const measure = new Measure(maxBytes)
    try {
      for await (const piece of source) {
        measure.add(piece)
        if (!out.write(piece)) await once(out, 'drain')
      }
      out.end()
      await finished(out)
      await rename(partial, this.pathOf(mediaId))
    } catch (err) {
      out.destroy()
      await rm(partial, { force: true })
      throw err
    }
    return measure.result()
  }

  read(mediaId: string, start: number, end: number): Readable {
    return createReadStream(this.pathOf(mediaId), { start, end })
  }

  async remove(mediaId: string): Promise<void> {
    await rm(this.pathOf(mediaId), { force: true })
    await rm(this.pathOf(mediaId, '.part'), { force: true })
  }

  async stored(mediaId: string): Promise<number> {
    const sizes = await Promise.all(
      ['', '.part'].map((suffix) =>
        stat(this.pathOf(mediaId, suffix)).then(
          (s) => s.size,
          () => 0,
        ),
      ),
    )
    return sizes[0] + sizes[1]
  }

  async count(): Promise<number> {
    return new Set((await readdir(this.dir)).map((name) => name.replace(/\.part$/, ''))).size
  }

  async close(): Promise<void> {
    if (this.temporary) await rm(this.dir, { recursive: true, force: true })
  }
}
