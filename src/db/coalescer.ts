// Moved to ../shared/coalescer.js; this path stays until test/ and bench/ import the new one.
export * from '../shared/coalescer.js'
