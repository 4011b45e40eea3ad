// Moved to ../messages/delivery-status.service.js; this path stays until test/ and bench/ import the new one.
export * from '../messages/delivery-status.service.js'
