/**
 * PostgreSQL's text for a `timestamptz` as a Date, without a regular expression: the dashboards'
 * reads bring hundreds per request, and pg's parser (postgres-date) was a few percent of their CPU.
 * Takes the form PostgreSQL writes with `DateStyle = ISO` (its default and what pg expects):
 * `2026-12-05 01:08:31.123+00`, any fraction and offset (`+05:30`, `-00:09:21` for old local
 * times); anything else (BC, infinity, years before 1000 or after 9999) goes to `fallback`.
 */
export function parseTimestamptz(text: string, fallback: (text: string) => unknown): unknown {
  const n = text.length
  if (n < 22 || text.charCodeAt(4) !== DASH || text.charCodeAt(7) !== DASH || text.charCodeAt(10) !== SPACE)
    return fallback(text)
  const year = digits(text, 0, 4)
  const month = digits(text, 5, 7)
  const day = digits(text, 8, 10)
  const hour = digits(text, 11, 13)
  const minute = digits(text, 14, 16)
  const second = digits(text, 17, 19)
  if (year < 1000 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return fallback(text)
  if (text.charCodeAt(13) !== COLON || text.charCodeAt(16) !== COLON) return fallback(text)
  let i = 19
  let ms = 0
  if (text.charCodeAt(i) === DOT) {
    // Milliseconds: the first three digits (a Date holds no more); any further ones are skipped.
    let places = 0
    for (i++; i < n; i++) {
      const d = text.charCodeAt(i) - ZERO
      if (d < 0 || d > 9) break
      if (places < 3) ((ms = ms * 10 + d), places++)
    }
    for (; places < 3; places++) ms *= 10
  }
  const sign = text.charCodeAt(i) === PLUS ? 1 : text.charCodeAt(i) === MINUS ? -1 : 0
  if (sign === 0) return fallback(text)
  // ±HH, ±HH:MM or ±HH:MM:SS, and nothing after.
  const parts = (n - i) / 3 // the 2, 5 or 8 characters after the sign
  if (parts !== 1 && parts !== 2 && parts !== 3) return fallback(text)
  let offset = 0
  for (let p = 0; p < parts; p++) {
    const at = i + 1 + p * 3
    if (p > 0 && text.charCodeAt(at - 1) !== COLON) return fallback(text)
    const v = digits(text, at, at + 2)
    if (v < 0) return fallback(text)
    offset += v * (p === 0 ? 3_600_000 : p === 1 ? 60_000 : 1_000)
  }
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms) - sign * offset)
}

const ZERO = 48
const DASH = 45
const SPACE = 32
const COLON = 58
const DOT = 46
const PLUS = 43
const MINUS = 45

/** The number written with the digits from `start` to `end` (exclusive), or -1 if one is not a digit. */
function digits(text: string, start: number, end: number): number {
  let value = 0
  for (let i = start; i < end; i++) {
    const d = text.charCodeAt(i) - ZERO
    if (d < 0 || d > 9) return -1
    value = value * 10 + d
  }
  return value
}
