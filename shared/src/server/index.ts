/**
 * Node-only pieces common to the cloud API and the edge's LAN server, at
 * `@smart-village/shared/server`. Never imported by the web app, and not re-exported from the
 * package's main entry (which the browser bundle uses).
 */
export * from './errors.js';
export * from './scrypt.js';
export * from './static.js';
export * from './sessions.js';
export * from './routing.js';
