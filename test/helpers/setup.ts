/**
 * The one setup a test file needs: `useTestApp()` at the top of the file (or of a describe block)
 * starts a fake Meta and the app in a beforeAll, and closes them in an afterAll. Tests read the
 * running app and fake through the returned object:
 *
 *   const ctx = useTestApp({ meta: { templates: [aviso] }, env: webhookEnv })
 *   it('sends', async () => {
 *     const res = await ctx.t.rest('POST', '/api/whatsapp/send', body)
 *     expect(ctx.meta.accepted).toHaveLength(1)
 *   })
 *
 * A test that needs an app of its own (other settings, a second instance) still calls
 * startTestApp, with `meta: ctx.meta`.
 */
import { afterAll, beforeAll } from 'vitest'
import { type FakeMetaOptions, FakeMetaServer } from './fake-meta.js'
import { startTestApp, type TestApp } from './test-app.js'

/** A database made for one app, dropped once the app closed. */
export interface OwnedDatabase {
  url: string
  drop: () => Promise<void>
}

export interface TestAppOptions {
  /**
   * The fake Meta: options for a new one (the default is a new one with default options), a
   * function answering one started elsewhere (it is not closed here: `() => other.meta`), or
   * `false` for none (the app then runs the simulator).
   */
  meta?: FakeMetaOptions | (() => FakeMetaServer) | false
  /** `false`: no app, only the fake Meta (a test of the fake itself, or of the Graph API client). */
  app?: false
  /** Environment for the app, over the fake Meta's and the test defaults. */
  env?: Record<string, string>
  /**
   * The app's database, decided in the beforeAll: a URL to share (another app's, kept), a database
   * made for this app (dropped after it closed), or undefined for the default scratch database.
   */
  database?: () => string | OwnedDatabase | undefined | Promise<string | OwnedDatabase | undefined>
  /** Closing the app may fail without failing the file (a test closed its database under it). */
  ignoreCloseError?: boolean
}

export interface TestContext {
  /** The running app; throws when read before the beforeAll ran, or when `app: false`. */
  readonly t: TestApp
  /** The fake Meta; throws when read before the beforeAll ran, or when `meta: false`. */
  readonly meta: FakeMetaServer
}

/**
 * Registers a beforeAll that starts the fake Meta and then the app, and an afterAll that closes
 * them (the app first). Hooks registered after this call run after it starts things, and, being
 * "after" hooks, before it closes them.
 */
export function useTestApp(options: TestAppOptions = {}): TestContext {
  let meta: FakeMetaServer | undefined
  let t: TestApp | undefined
  let ownsMeta = false
  let database: OwnedDatabase | undefined
  let started = false

  beforeAll(async () => {
    if (typeof options.meta === 'function') meta = options.meta()
    else if (options.meta !== false) {
      meta = await FakeMetaServer.start(options.meta)
      ownsMeta = true
    }
    if (options.app !== false) {
      const chosen = await options.database?.()
      if (typeof chosen === 'object') database = chosen
      const databaseUrl = typeof chosen === 'string' ? chosen : chosen?.url
      t = await startTestApp({ meta, databaseUrl, env: options.env })
    }
    started = true
  })

  afterAll(async () => {
    try {
      await t?.close().catch((err: unknown) => {
        if (!options.ignoreCloseError) throw err
      })
    } finally {
      await database?.drop()
      if (ownsMeta) await meta?.close()
    }
  })

  const notYet = (what: string) =>
    new Error(`useTestApp: ${what} is not started yet; read it in a test or in a hook registered after useTestApp()`)
  return {
    get t() {
      if (t) return t
      if (started || options.app === false) throw new Error('useTestApp: this file started no app (app: false)')
      throw notYet('the app (ctx.t)')
    },
    get meta() {
      if (meta) return meta
      if (started || options.meta === false) throw new Error('useTestApp: this file started no fake Meta (meta: false)')
      throw notYet('the fake Meta (ctx.meta)')
    },
  }
}
