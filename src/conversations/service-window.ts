/** Meta's customer-service window: free-form messages are allowed for 24 hours after the customer's last message. */
export const SERVICE_WINDOW_MS = 24 * 60 * 60 * 1000

/**
 * When the conversation's customer-service window closes; null when the customer never wrote.
 * @see https://developers.facebook.com/docs/whatsapp/pricing#customer-service-windows
 */
export function serviceWindowExpiresAt(conversation: { lastInboundAt: Date | null }): Date | null {
  return conversation.lastInboundAt ? new Date(conversation.lastInboundAt.getTime() + SERVICE_WINDOW_MS) : null
}

export function isServiceWindowOpen(conversation: { lastInboundAt: Date | null } | null, now: Date): boolean {
  const expires = conversation && serviceWindowExpiresAt(conversation)
  return expires !== null && expires > now
}
