/** The library: what is indexed, and changing it (add, sync, remove) with live progress. */
import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/swagger';
import type { ServerContext } from './context.js';
import type { JobView } from './schemas.js';
import { errorSchema, jobSchema, type LibraryJson, librarySchema, pathBodySchema } from './schemas.js';

/** Seconds between keep-alive comments on the event stream (proxies close idle connections). */
const KEEPALIVE_S = 15;

export function libraryRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get(
    '/api/library',
    { schema: { summary: 'The library: indexed roots, roots folders may be added from, limits', response: { 200: librarySchema } } },
    async (): Promise<LibraryJson> => {
      const s = await ctx.index.stats();
      return {
        db: ctx.index.dir,
        roots: [...s.roots],
        allow: [...ctx.guard.allowed],
        captions: s.captions,
        vectorIndex: s.vectorIndex?.kind ?? null,
        captioning: ctx.captioner !== undefined,
        auth: ctx.access.mode,
        limits: { uploadBytes: ctx.uploads.limits.bytes, uploadSeconds: ctx.uploads.limits.seconds },
      };
    },
  );

  app.get(
    '/api/library/jobs',
    {
      schema: {
        summary: 'Library changes: queued and running ones, then the latest finished',
        response: { 200: { type: 'array', items: jobSchema } },
      },
    },
    async () => ctx.library.list(),
  );

  app.get(
    '/api/library/events',
    {
      schema: {
        summary: 'Server-sent events: `jobs` (the list, once) then `job` (one change, on every update)',
        produces: ['text/event-stream'],
      },
    },
    (req, reply) => {
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      });
      const send = (event: string, data: unknown): void => {
        res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      send('jobs', ctx.library.list());
      const onJob = (job: JobView): void => send('job', job);
      ctx.library.on('job', onJob);
      const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), KEEPALIVE_S * 1000);
      req.raw.on('close', () => {
        clearInterval(keepAlive);
        ctx.library.off('job', onJob);
      });
    },
  );

  const changeSchema = (summary: string, body?: object) => ({
    summary,
    ...(body ? { body } : {}),
    response: { 202: jobSchema, '4xx': errorSchema },
  });

  app.post<{ Body: { path: string } }>(
    '/api/library/add',
    {
      config: { changesState: true },
      schema: changeSchema('Index a folder or file under an allowed root (queued; progress on /api/library/events)', pathBodySchema),
    },
    async (req, reply) => reply.code(202).send(ctx.library.enqueue('add', await ctx.guard.addable(req.body.path))),
  );

  app.post(
    '/api/library/sync',
    {
      config: { changesState: true },
      schema: changeSchema('Re-walk the indexed roots: add new files, re-embed changed ones, drop deleted ones'),
    },
    async (_req, reply) => reply.code(202).send(ctx.library.enqueue('sync')),
  );

  app.post<{ Body: { path: string } }>(
    '/api/library/remove',
    {
      config: { changesState: true },
      schema: changeSchema('Drop a file or folder from the index (and from what sync re-walks)', pathBodySchema),
    },
    async (req, reply) => reply.code(202).send(ctx.library.enqueue('remove', ctx.guard.removable(req.body.path))),
  );
}
