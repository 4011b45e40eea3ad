/**
 * Summarises V8 CPU profiles (`node --cpu-prof`): the functions with the most self time, and self
 * time by package (node_modules/<package>, our src/, node internals, GC, idle).
 *
 *   npx tsx bench/profile-top.ts bench/profiles            # every .cpuprofile in the folder
 *   npx tsx bench/profile-top.ts some.cpuprofile --top 30
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

function packageOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  if (url.startsWith('node:')) return 'node internals'
  const src = url.indexOf('/src/')
  if (src >= 0) return `src/${url.slice(src + 5).split('/')[0]}`
  const dist = url.indexOf('/dist/') // the service as built by `npm run build`: src/ compiled
  if (dist >= 0) return `src/${url.slice(dist + 6).split('/')[0]}`
  const bench = url.indexOf('/bench/')
  if (bench >= 0) return 'bench'
  return url
}

/**
 * `windows`: [from, to] stretches in µs of the monotonic clock (the profile's own clock); when
 * given, only samples inside them count (the benchmark's measured runs, not start-up).
 */
export function summarizeProfile(file: string, top = 20, windows: number[][] | null = null): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  let t = profile.startTime
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0
    t += delta
    if (windows && !windows.some(([from, to]) => t >= from && t <= to)) continue
    const id = profile.samples[i]
    self.set(id, (self.get(id) ?? 0) + delta)
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const idle = [...self.entries()]
    .filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)')
    .reduce((a, [, t]) => a + t, 0)
  const busy = total - idle
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  for (const [id, t] of self) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame
    if (functionName === '(idle)') continue
    const short = url
      ? `${url.replace(/^file:\/\/.*?node_modules\//, '').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/')}:${lineNumber + 1}`
      : ''
    const key = `${functionName || '(anonymous)'} ${short}`.trim()
    byFunction.set(key, (byFunction.get(key) ?? 0) + t)
    const pkg = packageOf(url, functionName)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + t)
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1)}%`.padStart(6)
  const lines = [
    `\n#### ${path.relative(path.join(import.meta.dirname, 'profiles'), file)}: ${(busy / 1e6).toFixed(1)} s on CPU of ${(total / 1e6).toFixed(1)} s sampled${windows ? ' during the measured runs' : ''} (shares below are of CPU time)\n`,
    'Self time by package:',
    '```',
    ...[...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([k, t]) => `${pct(t)}  ${k}`),
    '```',
    `Top ${top} functions by self time:`,
    '```',
    ...[...byFunction.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, t]) => `${pct(t)}  ${k}`),
    '```',
  ]
  return lines.join('\n')
}

/** The profiles in `target`: a file, or a folder of them, or a folder of folders (one per process,
 * whose main thread is the profile with the most samples). */
function profilesIn(target: string): string[] {
  if (!statSync(target).isDirectory()) return [target]
  const entries = readdirSync(target).sort()
  const files = entries.filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(target, f))
  const dirs = entries.map((f) => path.join(target, f)).filter((f) => statSync(f).isDirectory())
  for (const dir of dirs) {
    const inDir = readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => path.join(dir, f))
    const main = inDir.sort((a, b) => statSync(b).size - statSync(a).size)[0]
    if (main) files.push(main)
  }
  return files
}

export function summarizeProfiles(target: string, top = 20): string {
  return profilesIn(target)
    .map((f) => {
      const windowsFile = path.join(path.dirname(f), 'windows.json')
      const windows = existsSync(windowsFile) ? (JSON.parse(readFileSync(windowsFile, 'utf8')) as number[][]) : null
      return summarizeProfile(f, top, windows)
    })
    .join('\n')
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2)
  const topAt = args.indexOf('--top')
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 20
  const target =
    args.find((a, i) => !a.startsWith('--') && i !== topAt + 1) ?? path.join(import.meta.dirname, 'profiles')
  console.log(summarizeProfiles(target, top))
}
