/**
 * The API's shapes, as JSON Schema (Fastify validates requests and serialises responses with them, and
 * /openapi.json is generated from them) and as TypeScript types (the page's client uses these).
 */

/** `GET /api/search` and `POST /api/similar` hits: the same objects as `clap search --json`. */
export interface SearchHitJson {
  path: string;
  score: number;
  /** The best window's span (seconds), for indexes built with --sliding. */
  start?: number;
  end?: number;
}

/** The filters of `clap search`, as query parameters (and upload fields for /api/similar). */
export interface SearchFilters {
  top?: number;
  glob?: string;
  'min-duration'?: number;
  'max-duration'?: number;
  level?: 'file' | 'window';
  exact?: boolean;
}

export interface SearchQuery extends SearchFilters {
  q?: string;
  like?: string;
}

export const errorSchema = {
  type: 'object',
  description: 'Every error: one clear message',
  properties: { error: { type: 'string' } },
  required: ['error'],
} as const;

const hitSchema = {
  type: 'object',
  properties: {
    path: { type: 'string', description: 'absolute path of the file' },
    score: { type: 'number', description: 'cosine similarity to the query' },
    start: { type: 'number', description: 'start of the best window, seconds (sliding indexes)' },
    end: { type: 'number', description: 'end of the best window, seconds' },
  },
  required: ['path', 'score'],
} as const;

export const hitsSchema = { type: 'array', items: hitSchema } as const;

export const filterProperties = {
  top: { type: 'integer', minimum: 1, maximum: 1000, default: 10, description: 'results (default 10)' },
  glob: { type: 'string', minLength: 1, maxLength: 1000, description: "only paths matching ('*.wav' matches names, 'drums/**' folders)" },
  'min-duration': { type: 'number', minimum: 0, description: 'only files at least this long, seconds' },
  'max-duration': { type: 'number', minimum: 0, description: 'only files at most this long, seconds' },
  level: { type: 'string', enum: ['file', 'window'], description: "'window': best window per file (sliding indexes); 'file'" },
  exact: { type: 'boolean', description: 'scan every vector (ignore the ANN index)' },
} as const;

export const searchQuerySchema = {
  type: 'object',
  properties: {
    q: { type: 'string', maxLength: 2000, description: 'what to find, in words' },
    like: { type: 'string', maxLength: 4096, description: 'or: a library file; finds files that sound like it (itself left out)' },
    ...filterProperties,
  },
} as const;

/** `GET /api/stats`: the `clap index stats --json` object. */
export interface StatsJson {
  files: number;
  windows: number;
  model: Record<string, unknown>;
  family: string | null;
  bytes: number;
}

export const statsSchema = {
  type: 'object',
  properties: {
    files: { type: 'integer' },
    windows: { type: 'integer' },
    model: { type: 'object', additionalProperties: true, description: 'the model identity the index was built with' },
    family: {
      type: ['string', 'null'],
      description: "the model's family in words (e.g. 'msclap 2023 (HTSAT + GPT-2)'); null for an index made before it was recorded",
    },
    bytes: { type: 'integer' },
  },
  required: ['files', 'windows', 'model', 'family', 'bytes'],
} as const;

/** `POST /api/classify`. */
export interface ClassifyJson {
  scores: Record<string, number>;
}

export const classifySchema = {
  type: 'object',
  properties: { scores: { type: 'object', additionalProperties: { type: 'number' }, description: 'label → probability' } },
  required: ['scores'],
} as const;

export const captionSchema = { type: 'object', properties: { caption: { type: 'string' } }, required: ['caption'] } as const;

const fileField = {
  type: 'string',
  format: 'binary',
  description: 'the audio (WAV, FLAC, Ogg Vorbis/Opus or MP3; sniffed from its bytes)',
};

/** Multipart bodies: documented here, read (streamed and bounded) by the handlers. */
export const classifyBody = {
  type: 'object',
  properties: {
    file: fileField,
    labels: { type: 'string', description: 'comma-separated labels' },
    'multi-label': { type: 'boolean', description: 'sigmoid per label instead of a softmax across labels' },
    template: {
      type: 'string',
      description: "prompt; '{}' is replaced by the label (default: the model family's, msclap's 'this is the sound of ')",
    },
  },
  required: ['file', 'labels'],
} as const;

export const captionBody = { type: 'object', properties: { file: fileField }, required: ['file'] } as const;

export const similarBody = {
  type: 'object',
  properties: { file: fileField, ...filterProperties },
  required: ['file'],
} as const;

export const pathQuerySchema = (extra: Record<string, unknown> = {}) =>
  ({
    type: 'object',
    properties: { path: { type: 'string', maxLength: 4096, description: 'absolute path of a library file' }, ...extra },
    required: ['path'],
  }) as const;

/** `GET /api/peaks`. */
export interface PeaksView {
  /** Seconds. */
  duration: number;
  sampleRate: number;
  channels: number;
  format: string | null;
  /** True when /api/audio streams the file as it is (seek in it); false when it serves decoded WAV windows. */
  streamable: boolean;
  /** Loudest absolute sample (all channels) in each of `n` equal stretches, 0…1, rounded to 3 digits. */
  peaks: number[];
}

export const peaksSchema = {
  type: 'object',
  properties: {
    duration: { type: 'number' },
    sampleRate: { type: 'integer' },
    channels: { type: 'integer' },
    format: { type: ['string', 'null'] },
    streamable: { type: 'boolean', description: 'true: /api/audio streams the file as it is; false: it serves decoded WAV windows' },
    peaks: { type: 'array', items: { type: 'number' } },
  },
  required: ['duration', 'sampleRate', 'channels', 'format', 'streamable', 'peaks'],
} as const;

export type JobKind = 'add' | 'sync' | 'remove';
/** 'stopped': the server stopped it (the batch in flight was committed; `sync` goes on from there). */
export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'stopped';

export interface JobFailure {
  path: string;
  reason: string;
}

/** A library change, as `GET /api/library/jobs` and the `job` events report it. */
export interface JobView {
  id: number;
  kind: JobKind;
  /** The folder or file added or removed. */
  path?: string;
  state: JobState;
  /** Files finished (embedded, unchanged or skipped) out of those to examine. */
  done: number;
  total: number;
  /** Files per second so far, and seconds left at that rate (null until known). */
  filesPerS: number | null;
  etaS: number | null;
  /** The file last finished. */
  current?: string;
  /** The first failures with their reasons (all of them are counted in failureCount). */
  failures: JobFailure[];
  failureCount: number;
  report?: {
    added: number;
    updated: number;
    unchanged: number;
    removed: number;
    skipped: number;
    files: number;
    seconds: number;
    /** Files found to (re-)embed but left when the job was stopped. */
    pending: number;
  };
  error?: string;
}

export const jobSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    kind: { type: 'string', enum: ['add', 'sync', 'remove'] },
    path: { type: 'string' },
    state: { type: 'string', enum: ['queued', 'running', 'done', 'failed', 'stopped'] },
    done: { type: 'integer' },
    total: { type: 'integer' },
    filesPerS: { type: ['number', 'null'] },
    etaS: { type: ['number', 'null'] },
    current: { type: 'string' },
    failures: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, reason: { type: 'string' } }, required: ['path', 'reason'] },
    },
    failureCount: { type: 'integer' },
    report: { type: 'object', additionalProperties: { type: 'number' } },
    error: { type: 'string' },
  },
  required: ['id', 'kind', 'state', 'done', 'total', 'filesPerS', 'etaS', 'failures', 'failureCount'],
} as const;

export const pathBodySchema = {
  type: 'object',
  properties: { path: { type: 'string', maxLength: 4096, description: 'absolute path' } },
  required: ['path'],
  additionalProperties: false,
} as const;

/** `GET /api/library`. */
export interface LibraryJson {
  db: string;
  roots: string[];
  allow: string[];
  captions: number;
  vectorIndex: string | null;
  captioning: boolean;
  auth: 'none' | 'writes' | 'all';
  limits: { uploadBytes: number; uploadSeconds: number };
}

export const librarySchema = {
  type: 'object',
  properties: {
    db: { type: 'string', description: 'the index folder' },
    roots: { type: 'array', items: { type: 'string' }, description: 'folders and files indexed (what sync re-walks)' },
    allow: { type: 'array', items: { type: 'string' }, description: 'roots given with --allow: folders under them may be added' },
    captions: { type: 'integer' },
    vectorIndex: { type: ['string', 'null'], description: 'the ANN index kind, or null (exact search)' },
    captioning: { type: 'boolean', description: 'POST /api/caption is available (--caption-weights)' },
    auth: { type: 'string', enum: ['none', 'writes', 'all'] },
    limits: {
      type: 'object',
      properties: { uploadBytes: { type: 'integer' }, uploadSeconds: { type: 'number' } },
      required: ['uploadBytes', 'uploadSeconds'],
    },
  },
  required: ['db', 'roots', 'allow', 'captions', 'vectorIndex', 'captioning', 'auth', 'limits'],
} as const;
