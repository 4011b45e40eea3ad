import { lookup } from 'node:dns/promises'
import type { LookupAddress } from 'node:dns'
import { isIP } from 'node:net'
import { WebhookUrlRefusedError } from '../errors/errors.js'

/**
 * Which endpoint URLs the service will call. The service runs inside the business's network: an
 * endpoint must never be a way to reach what is behind it (SSRF). So in production an endpoint is
 * https to a host whose every address is public; http is allowed only to loopback and only
 * outside production (a receiver on the developer's machine).
 */
export interface AddressPolicy {
  production: boolean
  /** Private addresses allowed even in production (a benchmark, a closed network). */
  allowPrivateNetworks: boolean
}

/** The 16 bytes of an IPv6 address, or the 4 of an IPv4 one; null when `ip` is neither. */
function bytesOf(ip: string): number[] | null {
  const kind = isIP(ip)
  if (kind === 4) return ip.split('.').map(Number)
  if (kind !== 6) return null
  let text = ip.replace(/%.*$/, '') // zone index
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (quad) {
    const b = quad[1].split('.').map(Number)
    text = text.slice(0, -quad[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null]
  const groups = (s: string) => (s ? s.split(':').map((g) => parseInt(g, 16)) : [])
  const h = groups(head)
  const t = tail === null ? [] : groups(tail)
  const all = tail === null ? h : [...h, ...Array(8 - h.length - t.length).fill(0), ...t]
  return all.flatMap((g) => [g >> 8, g & 0xff])
}

/** True for an address that is not on the public internet (private, loopback, link-local, …). */
export function isNonPublicAddress(ip: string): boolean {
  const b = bytesOf(ip)
  if (!b) return true
  if (b.length === 16) {
    const zeros = (n: number) => b.slice(0, n).every((x) => x === 0)
    // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses are the IPv4 address.
    if (zeros(10) && b[10] === 0xff && b[11] === 0xff) return isNonPublicAddress(b.slice(12).join('.'))
    if (zeros(12)) return true // ::, ::1 and the deprecated IPv4-compatible form
    if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b)
      return isNonPublicAddress(b.slice(12).join('.')) // NAT64
    if ((b[0] & 0xfe) === 0xfc) return true // fc00::/7 unique local
    if (b[0] === 0xfe && (b[1] & 0xc0) === 0x80) return true // fe80::/10 link-local
    if (b[0] === 0xfe && (b[1] & 0xc0) === 0xc0) return true // fec0::/10 site-local (deprecated)
    if (b[0] === 0xff) return true // multicast
    if (b[0] === 0x20 && b[1] === 0x01 && b[2] === 0x0d && b[3] === 0xb8) return true // documentation
    return false
  }
  const [a, c] = b
  return (
    a === 0 || // this network
    a === 10 ||
    a === 127 ||
    (a === 100 && c >= 64 && c <= 127) || // carrier-grade NAT
    (a === 169 && c === 254) || // link-local (cloud metadata lives here)
    (a === 172 && c >= 16 && c <= 31) ||
    (a === 192 && c === 168) ||
    (a === 192 && c === 0 && b[2] === 0) || // IETF protocol assignments
    (a === 198 && (c === 18 || c === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  )
}

const isLoopbackHost = (host: string) => {
  if (host === 'localhost' || host.endsWith('.localhost')) return true
  const b = bytesOf(host)
  if (!b) return false
  if (b.length === 4) return b[0] === 127
  return b.slice(0, 15).every((x) => x === 0) && b[15] === 1
}

/** The hostname of a URL without IPv6 brackets. */
const hostOf = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1')

/**
 * Checks an endpoint URL when it is registered or changed; resolves to it normalised.
 * @throws WebhookUrlRefusedError naming `field`
 */
export async function checkEndpointUrl(raw: string, policy: AddressPolicy, field = 'url'): Promise<string> {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new WebhookUrlRefusedError(field, 'must be an absolute https:// URL')
  }
  if (url.username || url.password) throw new WebhookUrlRefusedError(field, 'must not carry credentials')
  if (url.hash) throw new WebhookUrlRefusedError(field, 'must not have a #fragment')
  const host = hostOf(url)
  const loopbackAllowed = !policy.production || policy.allowPrivateNetworks
  if (url.protocol === 'http:') {
    if (!loopbackAllowed || !isLoopbackHost(host))
      throw new WebhookUrlRefusedError(
        field,
        policy.production ? 'must be https' : 'must be https (http only to localhost, 127.0.0.1 or [::1])',
      )
  } else if (url.protocol !== 'https:') {
    throw new WebhookUrlRefusedError(field, 'must be an https:// URL')
  }
  if (policy.production && !policy.allowPrivateNetworks) await publicAddresses(host, field)
  return url.toString()
}

/**
 * Every address `host` resolves to, refused when any is not public (checked again at delivery
 * time, on the addresses actually connected to, so a DNS answer that changes cannot get in).
 * @throws WebhookUrlRefusedError
 */
export async function publicAddresses(host: string, field = 'url'): Promise<LookupAddress[]> {
  let addresses: LookupAddress[]
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }]
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true })
    } catch (err) {
      throw new WebhookUrlRefusedError(field, `its host does not resolve (${(err as NodeJS.ErrnoException).code})`)
    }
  }
  const refused = addresses.find((a) => isNonPublicAddress(a.address))
  if (refused || addresses.length === 0)
    throw new WebhookUrlRefusedError(
      field,
      `its host resolves to a private, loopback or link-local address (${refused?.address ?? 'none'})`,
    )
  return addresses
}
