/** Library audio: streamed as it is with range requests when browsers play it, else decoded to WAV windows. */
import { basename, dirname } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type {} from '@fastify/static';
import type {} from '@fastify/swagger';
import type { ServerContext } from './context.js';
import { HttpError } from './http-error.js';
import { mediaInfo } from './media.js';
import { errorSchema, pathQuerySchema, peaksSchema } from './schemas.js';

export function mediaRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Querystring: { path: string; start?: number; end?: number; format?: 'wav' } }>(
    '/api/audio',
    {
      schema: {
        summary:
          'A library file: as it is (range requests) when browsers play its format, ' +
          'else seconds [start, end) decoded to 16-bit WAV; format=wav always decodes',
        querystring: pathQuerySchema({
          start: { type: 'number', minimum: 0, description: 'seconds (decoded WAV only)' },
          end: { type: 'number', minimum: 0, description: 'seconds (decoded WAV only)' },
          format: { type: 'string', enum: ['wav'], description: 'decode to WAV even when the file plays as it is' },
        }),
        produces: ['audio/*'],
        response: { '4xx': errorSchema },
      },
    },
    async (req, reply) => {
      const { real } = await ctx.guard.file(req.query.path);
      const { start, end, format } = req.query;
      if (start !== undefined && end !== undefined && end <= start) throw new HttpError(400, 'end must be after start');
      const info = mediaInfo(real);
      if (info.contentType && format !== 'wav' && start === undefined && end === undefined) {
        reply.header('content-type', info.contentType);
        return reply.sendFile(basename(real), dirname(real), { dotfiles: 'allow', contentType: false, cacheControl: false });
      }
      return reply.type('audio/wav').send(Buffer.from(await ctx.media.wav(real, start, end)));
    },
  );

  app.get<{ Querystring: { path: string; n: number } }>(
    '/api/peaks',
    {
      schema: {
        summary: 'A waveform summary of a library file (and its duration, format, and whether it streams as it is)',
        querystring: pathQuerySchema({ n: { type: 'integer', minimum: 1, maximum: 4000, default: 200, description: 'stretches' } }),
        response: { 200: peaksSchema, '4xx': errorSchema },
      },
    },
    async (req) => ctx.media.peaks((await ctx.guard.file(req.query.path)).real, req.query.n),
  );
}
