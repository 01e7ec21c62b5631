/** What `clap serve` does when an option is left out (the CLI's help shows these); kept apart from the server so help loads no HTTP stack. */
export const SERVE_DEFAULTS = { host: '127.0.0.1', port: 8765 } as const;
