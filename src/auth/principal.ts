/** What a key may do: READ ⊂ SEND ⊂ ADMIN. */
export type Scope = 'READ' | 'SEND' | 'ADMIN'

/** Who a request is for, once the gate let it in. Every door (REST, GraphQL, WebSocket) carries one. */
export interface Principal {
  /** The key's name, shown as a message's `sentBy`. */
  name: string
  /** A stable, non-secret id of the key (idempotency-key scopes, request limits). */
  caller: string
  scope: Scope
  /** The business numbers (Meta phone number ids) this key may use; null means every number. */
  phoneNumberIds: string[] | null
  /** The stored API key's id; absent for a configured token (API_TOKENS), which cannot be revoked. */
  keyId?: number
}

/** The scopes, narrowest first: each may do what the ones before it may. */
export const SCOPES = ['READ', 'SEND', 'ADMIN'] as const satisfies readonly Scope[]

/** Whether `held` covers `needed` (SEND covers READ, ADMIN covers both). */
export const covers = (held: Scope, needed: Scope) => SCOPES.indexOf(held) >= SCOPES.indexOf(needed)

/** The business numbers a caller may use: some phone number ids, or null for every number. */
export type NumberScope = string[] | null

/** Whether a caller limited to `scope` may use business number `phoneNumberId`. */
export const mayUse = (scope: NumberScope, phoneNumberId: string | null): boolean =>
  scope === null || (phoneNumberId !== null && scope.includes(phoneNumberId))
