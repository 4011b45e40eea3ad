import { z } from 'zod'

const INT32_MAX = 2_147_483_647

/** A database id (PostgreSQL `integer`); path parameters arrive as digit strings. */
export const idSchema = z.preprocess(
  (v) => (typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v),
  z
    .number({ error: 'must be a positive integer id' })
    .int('must be a positive integer id')
    .min(1, 'must be a positive integer id')
    .max(INT32_MAX, 'is too large for an id'),
)
