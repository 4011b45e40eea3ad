/**
 * What may import what under src/ (`npm run depcheck`, run in CI).
 *
 * Layers, lowest first. A module may import its own layer and the ones below it, never one above:
 *
 *   shared   src/shared/, src/errors/, config, logging, validation, project-root, generated/ (Prisma)
 *   infra    src/db/, src/events/           the database and the live-event bus
 *   meta     src/meta/                      the only code that knows Meta's wire format
 *   domain   one folder per concept         services, repositories, their schemas
 *   edges    src/graphql/, src/rest/, src/openapi/, and in domain folders *.resolver.ts, *.type.ts, *.routes.ts,
 *            *.view.ts (what the APIs show)
 *   app      src/app.ts, src/app/           wiring: builds every object once, closes them in reverse
 *   main     src/main.ts                    the process: config, listen, signals
 *
 * Besides: no import cycles between modules (none between the domain folders either: see
 * .dependency-cruiser-folders.cjs), and only the wiring knows the Meta simulator (production code
 * talks to the MetaApi interface).
 */
const layers = [
  ['shared', '^src/(shared/|errors|config\\.ts|logging\\.ts|validation\\.ts|project-root\\.ts|generated/)'],
  ['infra', '^src/(db|events)/'],
  ['meta', '^src/meta/'],
  ['domain', '^src/(auth|messages|messaging|conversations|media|templates|batches|webhooks|idempotency|scheduled|event-webhooks|api-keys)/'],
  ['edges', '^src/(graphql|rest|openapi)/|\\.(resolver|type|routes|view)\\.ts$'],
  ['app', '^src/app(\\.ts|/)'],
  ['main', '^src/main\\.ts$'],
]

// A module of a layer matches that layer's pattern and none of a higher one (a resolver is in a
// domain folder, yet an edge).
const above = (i) =>
  layers
    .slice(i + 1)
    .map(([, pattern]) => pattern)
    .join('|')
const inLayer = (i) => ({ path: layers[i][1], pathNot: above(i) })

const upwardRules = layers.slice(0, -1).map(([name], i) => ({
  name: `no-upward-from-${name}`,
  comment: `${name} imports only ${layers
    .slice(0, i + 1)
    .map(([n]) => n)
    .join(', ')}`,
  severity: 'error',
  from: inLayer(i),
  to: { path: above(i) },
}))

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules do not import each other, directly or through others.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upwardRules,
    {
      name: 'simulator-only-in-wiring',
      comment: 'The Meta simulator is a development stand-in for the Graph API: only the wiring picks it.',
      severity: 'error',
      from: { pathNot: '^src/(app\\.ts|app/|meta/meta\\.simulator\\.ts)' },
      to: { path: '^src/meta/meta\\.simulator\\.ts$' },
    },
    {
      name: 'no-unresolvable',
      comment: 'An import that resolves to nothing is a typo or a moved module.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/generated/' },
    // Type-only imports count: a cycle through types is still a cycle for a reader.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      extensions: ['.ts', '.js'],
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
    metrics: true,
  },
}
