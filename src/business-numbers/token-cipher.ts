import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

const VERSION = 'v1'
const NONCE_BYTES = 12
const TAG_BYTES = 16

/**
 * Encrypts stored Meta access tokens (AES-256-GCM: a random nonce per token, authenticated). A
 * stored token can send as the business, so a database dump or backup alone must not reveal it.
 * The `context` (the number's phone number id) is authenticated too: a ciphertext copied onto
 * another number's row does not decrypt there.
 */
export class TokenCipher {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('a token cipher key is 32 bytes')
  }

  encrypt(plaintext: string, context: string): string {
    const nonce = randomBytes(NONCE_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce)
    cipher.setAAD(Buffer.from(context, 'utf8'))
    const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()])
    return `${VERSION}:${Buffer.concat([nonce, sealed, cipher.getAuthTag()]).toString('base64url')}`
  }

  /** @throws Error when the ciphertext was altered, or encrypted under another key or context. */
  decrypt(ciphertext: string, context: string): string {
    const [version, data] = ciphertext.split(':')
    if (version !== VERSION || !data) throw new Error('not a token ciphertext this version can read')
    const bytes = Buffer.from(data, 'base64url')
    const nonce = bytes.subarray(0, NONCE_BYTES)
    const tag = bytes.subarray(bytes.length - TAG_BYTES)
    const decipher = createDecipheriv('aes-256-gcm', this.key, nonce)
    decipher.setAAD(Buffer.from(context, 'utf8'))
    decipher.setAuthTag(tag)
    return Buffer.concat([
      decipher.update(bytes.subarray(NONCE_BYTES, bytes.length - TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8')
  }
}
