// Moved to ../shared/connection.type.js; this path stays until test/ and bench/ import the new one.
export * from '../shared/connection.type.js'
