/**
 * The page: built from web/ into dist/web by `npm run build:web` (part of npm ci and npm test). Its
 * views are one HTML document (the client picks the view from the address); everything else in
 * dist/web is served as it is, so another static page built there (e.g. a demo under dist/web/demo/)
 * is served by `clap serve` with no change here.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { packageRoot } from '../version.js';
import type { Access } from './access.js';
import { HttpError } from './http-error.js';

/** Where the built page lives. */
export function webRoot(): string {
  return join(packageRoot() ?? '.', 'dist', 'web');
}

/** The addresses of the page's views (shareable: a search keeps its query in the address). */
export const PAGE_ROUTES = ['/', '/drop', '/library'];

const TOKEN_PLACEHOLDER = '__CLAP_TOKEN__';

export async function pageRoutes(app: FastifyInstance, access: Access, root = webRoot()): Promise<void> {
  const indexFile = join(root, 'index.html');
  let html: string | undefined;
  const page = (): string => {
    if (html === undefined) {
      if (!existsSync(indexFile)) throw new HttpError(503, `the page is not built (${indexFile} is missing): run npm run build:web`);
      html = readFileSync(indexFile, 'utf8');
    }
    return html.replace(TOKEN_PLACEHOLDER, access.token ?? '');
  };
  for (const url of PAGE_ROUTES) {
    app.get(url, { schema: { hide: true } }, async (_req, reply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page()),
    );
  }
  // A folder's index.html answers for the folder (the demo: /demo/); the page's own routes come first.
  if (existsSync(root))
    await app.register(fastifyStatic, { root, prefix: '/', index: ['index.html'], serveDotFiles: false, decorateReply: false });
}
