// Moved to ../messages/message-sender.js; this path stays until test/ and bench/ import the new one.
export * from '../messages/message-sender.js'
