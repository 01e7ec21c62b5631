/** The `clap serve` layer: the HTTP API and the page, on top of the library API (tasks/). */
export { startServer, type RunningServer, type ServeOptions } from './app.js';
export { SERVE_DEFAULTS } from './defaults.js';
export { TOKEN_HEADER, type AuthMode } from './access.js';
export { DEFAULT_UPLOAD_LIMITS, type UploadLimits } from './uploads.js';
export type * from './schemas.js';
