// For the Prisma CLI, where its engine can be downloaded (`prisma migrate deploy`, `prisma studio`).
// This project's own commands (npm run db:*) do not need it: see src/db/cli.ts.
import { defineConfig } from 'prisma/config'

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? '' },
})
