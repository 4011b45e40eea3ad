import { open, readFile, unlink } from 'node:fs/promises'
import path from 'node:path'

/** The embedded database's folder is held by another live process. */
export class DatabaseInUseError extends Error {
  override name = 'DatabaseInUseError'
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `the embedded database (${dataDir}) is in use by the running service (pid ${pid}); ` +
        'stop it or use DATABASE_URL (PostgreSQL), which several processes can share',
    )
  }
}

const LOCK_FILE = 'wa-gateway.pid'

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Takes the embedded database's folder for this process: PGlite is single-process, and a second
 * process opening the same folder (the service and `npm run keys`) would fail obscurely or worse.
 * A lock file holds the owner's pid; one left by a process that died is taken over. Answers the
 * release.
 * @throws DatabaseInUseError
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = path.join(dataDir, LOCK_FILE)
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx')
      await handle.writeFile(String(process.pid))
      await handle.close()
      return () => unlink(file).catch(() => {})
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw err
    }
    const pid = Number((await readFile(file, 'utf8').catch(() => '')).trim())
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) throw new DatabaseInUseError(dataDir, pid)
    // Stale: its process is gone (or the file is half-written by a crash).
    await unlink(file).catch(() => {})
  }
}
