/** Search, stats and uploads: everything that reads the index or runs the model. */
import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/swagger';
import { checkLabels } from '../tasks/clap.js';
import type { IndexQuery, IndexSearchOptions, SearchHit } from '../tasks/clap-index.js';
import type { ServerContext } from './context.js';
import { HttpError } from './http-error.js';
import {
  captionBody,
  captionSchema,
  classifyBody,
  classifySchema,
  errorSchema,
  hitsSchema,
  type SearchFilters,
  type SearchHitJson,
  type SearchQuery,
  searchQuerySchema,
  similarBody,
  statsSchema,
} from './schemas.js';

/** Labels per classify request, and characters per label, at most. */
const MAX_LABELS = 500;
const MAX_LABEL_CHARS = 300;

function hitJson(h: SearchHit): SearchHitJson {
  return h.start !== undefined ? { path: h.path, score: h.score, start: h.start, end: h.end } : { path: h.path, score: h.score };
}

function searchOptions(f: SearchFilters): IndexSearchOptions {
  return {
    top: f.top ?? 10,
    glob: f.glob,
    minDuration: f['min-duration'],
    maxDuration: f['max-duration'],
    level: f.level,
    mode: f.exact ? 'exact' : 'auto',
  };
}

/** Upload fields are strings: the filters of /api/similar, parsed and checked like the query parameters. */
function filtersFromFields(fields: Record<string, string>): SearchFilters {
  const number = (name: string, integer: boolean): number | undefined => {
    const v = fields[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n < 1 || n > 1000)))
      throw new HttpError(400, `field '${name}' must be ${integer ? 'an integer from 1 to 1000' : 'a non-negative number'}, got '${v}'`);
    return n;
  };
  const level = fields.level;
  if (level !== undefined && level !== 'file' && level !== 'window') throw new HttpError(400, `field 'level' must be 'file' or 'window'`);
  return {
    top: number('top', true),
    glob: fields.glob || undefined,
    'min-duration': number('min-duration', false),
    'max-duration': number('max-duration', false),
    level,
    exact: fields.exact === 'true',
  };
}

function parseLabels(raw: string | undefined): string[] {
  const labels = (raw ?? '')
    .split(',')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (labels.length === 0) throw new HttpError(400, "give the labels (field 'labels', comma-separated)");
  if (labels.length > MAX_LABELS) throw new HttpError(400, `at most ${MAX_LABELS} labels, got ${labels.length}`);
  const long = labels.find((l) => l.length > MAX_LABEL_CHARS);
  if (long) throw new HttpError(400, `a label is longer than ${MAX_LABEL_CHARS} characters: '${long.slice(0, 40)}…'`);
  try {
    checkLabels(labels);
  } catch (e) {
    throw new HttpError(400, (e as Error).message);
  }
  return labels;
}

/**
 * Options of an upload route: the multipart body is documented by its schema but read by the handler
 * (streamed, bounded: Uploads), so it is not validated beforehand.
 */
function uploadRoute(summary: string, body: object, ok: object) {
  return {
    validatorCompiler: () => () => true,
    schema: { summary, consumes: ['multipart/form-data'], body, response: { 200: ok, '4xx': errorSchema, '5xx': errorSchema } },
  };
}

export function searchRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Querystring: SearchQuery }>(
    '/api/search',
    {
      schema: {
        summary: 'Search the library by text (q) or by example (like); the same hits as `clap search --json`',
        querystring: searchQuerySchema,
        response: { 200: hitsSchema, '4xx': errorSchema },
      },
    },
    async (req) => {
      const { q, like } = req.query;
      if ((q === undefined) === (like === undefined))
        throw new HttpError(400, "give a search text ('q') or a library file to sound like ('like')");
      let query: IndexQuery;
      if (like !== undefined) query = { audio: (await ctx.guard.file(like)).path };
      else if (q!.trim() === '') throw new HttpError(400, 'the search text is empty');
      else query = { text: q! };
      return (await ctx.index.search(query, searchOptions(req.query))).map(hitJson);
    },
  );

  app.get(
    '/api/stats',
    { schema: { summary: 'What the index holds: the `clap index stats --json` object', response: { 200: statsSchema } } },
    async () => {
      const s = await ctx.index.stats();
      return { files: s.files, windows: s.windows, model: s.model, family: s.family, bytes: s.bytes };
    },
  );

  app.post('/api/classify', uploadRoute('Zero-shot labels for an uploaded sound', classifyBody, classifySchema), (req) =>
    ctx.uploads.with(req, async (u) => {
      const labels = parseLabels(u.fields.labels);
      const [r] = await ctx.clap.classify([u.bytes], labels, {
        ...u.decode,
        multiLabel: u.fields['multi-label'] === 'true',
        template: u.fields.template || undefined,
      });
      return { scores: r.scores };
    }),
  );

  app.post(
    '/api/caption',
    uploadRoute('A caption for an uploaded sound (needs --caption-weights)', captionBody, captionSchema),
    async (req) => {
      const captioner = ctx.captioner;
      if (!captioner) throw new HttpError(501, 'captioning is off: start clap serve with --caption-weights clapcap.pth');
      return ctx.uploads.with(req, async (u) => {
        const [c] = await captioner.caption([u.bytes], { ...u.decode });
        return { caption: c.caption };
      });
    },
  );

  app.post('/api/similar', uploadRoute('Library files that sound like an uploaded sound', similarBody, hitsSchema), (req) =>
    ctx.uploads.with(req, async (u) => {
      const filters = filtersFromFields(u.fields);
      return (await ctx.index.search({ audio: u.bytes, decode: u.decode }, searchOptions(filters))).map(hitJson);
    }),
  );
}
