// Moved to ../messages/send-rate.js; this path stays until test/ and bench/ import the new one.
export * from '../messages/send-rate.js'
