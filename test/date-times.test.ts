import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { parseTimestamptz } from '../src/db/timestamptz.js'
import { DateTimeScalar } from '../src/graphql/date-time.scalar.js'

// pg's own parser (postgres-date): what every read through Prisma gets, so the reference here.
const pgParser = pg.types.getTypeParser(1184, 'text') as (text: string) => unknown
const parse = (text: string) => parseTimestamptz(text, pgParser)
const time = (value: unknown) => (value instanceof Date ? value.getTime() : value)

describe('timestamptz text from PostgreSQL', () => {
  it('reads every millisecond and offset form PostgreSQL writes as pg’s parser does', () => {
    const texts = [
      '2026-12-05 01:08:31+00',
      '2026-12-05 01:08:31.1+00',
      '2026-12-05 01:08:31.12-06',
      '2026-12-05 23:59:59.999+05:30',
      '2026-12-05 01:08:31.123456+14',
      '1900-01-01 00:00:00-00:09:21',
      '1000-01-01 00:00:00+00',
      '9999-12-31 23:59:59.999-12',
      '2024-02-29 12:00:00.5+00',
      ...Array.from({ length: 1000 }, (_, f) => `2026-12-05 01:08:31.${String(f).padStart(3, '0')}+00`),
      ...Array.from({ length: 200 }, () => {
        const d = new Date(Date.UTC(1970, 0, 1) + Math.floor(Math.random() * 4e12))
        const offset = Math.floor(Math.random() * 27) - 12
        const local = new Date(d.getTime() + offset * 3_600_000).toISOString().replace('T', ' ').replace('Z', '')
        return `${local}${offset < 0 ? '-' : '+'}${String(Math.abs(offset)).padStart(2, '0')}`
      }),
    ]
    for (const text of texts) {
      const value = parse(text)
      expect(value, text).toBeInstanceOf(Date)
      expect(time(value), text).toBe(time(pgParser(text)))
    }
  })

  it('leaves what it does not know to pg’s parser: BC, infinity, years before 1000 or after 9999', () => {
    for (const text of [
      '0044-03-15 12:00:00+00 BC',
      '0099-01-01 00:00:00+00',
      '12026-01-01 00:00:00+00',
      'infinity',
      '-infinity',
      '2026-12-05T01:08:31Z',
    ]) {
      expect(time(parse(text)), text).toEqual(time(pgParser(text)))
    }
  })
})

describe('DateTime in GraphQL answers', () => {
  it('is the ISO string itself (JSON.stringify then calls no toJSON), as graphql-scalars words it', () => {
    const at = new Date('2026-12-05T01:08:31.123Z')
    expect(DateTimeScalar.serialize(at)).toBe('2026-12-05T01:08:31.123Z')
    expect(DateTimeScalar.serialize('2026-12-05T03:08:31.123+02:00')).toBe('2026-12-05T01:08:31.123Z')
    expect(() => DateTimeScalar.serialize(new Date(Number.NaN))).toThrow(/invalid Date/)
    expect(() => DateTimeScalar.serialize('yesterday')).toThrow(/invalid date-time/)
  })
})
