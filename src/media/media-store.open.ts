import type { DatabaseConfig } from '../config.js'
import type { MediaStore } from './media.store.js'

/** The store for the configured database (only its module is loaded). */
export async function openMediaStore(database: DatabaseConfig): Promise<MediaStore> {
  if (database.kind === 'postgres') {
    const { PostgresMediaStore } = await import('./postgres-media.store.js')
    return new PostgresMediaStore(database.url)
  }
  const { FileMediaStore } = await import('./file-media.store.js')
  return FileMediaStore.beside(database.dataDir)
}
