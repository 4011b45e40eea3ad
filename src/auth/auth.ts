import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (s: string) => createHash('sha256').update(s).digest()

/**
 * A check for `Authorization: Bearer <token>` headers against the configured tokens. Compares
 * SHA-256 digests in constant time and always checks every token, so timing reveals neither a
 * token's length nor which one matched.
 */
export function bearerTokenVerifier(tokens: string[]): (authorization: string | undefined) => boolean {
  const expected = tokens.map(digest)
  return (authorization) => {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '')
    if (!match) return false
    const given = digest(match[1])
    let ok = false
    for (const token of expected) ok = timingSafeEqual(token, given) || ok
    return ok
  }
}
