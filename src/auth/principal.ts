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
}

/** The business numbers a caller may use: some phone number ids, or null for every number. */
export type NumberScope = string[] | null

/** Whether a caller limited to `scope` may use business number `phoneNumberId`. */
export const mayUse = (scope: NumberScope, phoneNumberId: string | null): boolean =>
  scope === null || (phoneNumberId !== null && scope.includes(phoneNumberId))
