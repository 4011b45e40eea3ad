import { existsSync } from 'node:fs'
import path from 'node:path'

/**
 * The project's folder (package.json, prisma/, .env, data/): the nearest one above this module that
 * holds a package.json. The same whether the code runs from src/ (tsx, vitest) or compiled to dist/.
 */
export const PROJECT_ROOT = findProjectRoot(import.meta.dirname)

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`)
  }
}
