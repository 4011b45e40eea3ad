/**
 * No folder cycles between the domain concepts (`npm run depcheck`, with .dependency-cruiser.cjs).
 *
 * Only the domain core is cruised: the edge files are left out (*.resolver.ts, *.type.ts,
 * *.routes.ts, *.view.ts, src/graphql/, src/rest/, src/openapi/), because graphql/schema.ts lists
 * the resolvers that live in domain folders and those import graphql/context.ts: a folder back-and-forth with no
 * module cycle behind it (module cycles are checked in .dependency-cruiser.cjs, edges included).
 */
const { options } = require('./.dependency-cruiser.cjs')

module.exports = {
  forbidden: [
    {
      name: 'no-circular-folders',
      comment: 'Folders do not import each other, directly or through others (messaging → batches → messaging).',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    ...options,
    exclude: {
      path: '^src/(generated|graphql|rest|openapi)/|\\.(resolver|type|routes|view)\\.ts$|^src/(app|main)\\.ts$|^src/app/',
    },
  },
}
