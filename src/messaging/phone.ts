// Moved to ../shared/phone.js; this path stays until test/ and bench/ import the new one.
export * from '../shared/phone.js'
