/**
 * `clap serve`: one process serving the JSON API (documented at /openapi.json) and the page that uses it.
 * It reads only files inside the index's roots and --allow roots, answers no cross-site requests, and
 * needs its token as `Access` says.
 */
import { networkInterfaces } from 'node:os';
import fastifyMultipart from '@fastify/multipart';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Clap } from '../tasks/clap.js';
import type { ClapCap } from '../tasks/clapcap.js';
import type { ClapIndex, IndexRunOptions } from '../tasks/clap-index.js';
import { packageVersion } from '../version.js';
import { Access, type AuthMode, newToken } from './access.js';
import type { ServerContext } from './context.js';
import { describeError } from './http-error.js';
import { Library } from './library.js';
import { Media } from './media.js';
import { pageRoutes } from './page.js';
import { PathGuard } from './paths.js';
import { libraryRoutes } from './routes-library.js';
import { mediaRoutes } from './routes-media.js';
import { searchRoutes } from './routes-search.js';
import { DEFAULT_UPLOAD_LIMITS, type UploadLimits, Uploads } from './uploads.js';
import { SERVE_DEFAULTS } from './defaults.js';

export interface ServeOptions {
  clap: Clap;
  index: ClapIndex;
  /** A clapcap model: enables captions of uploads. */
  captioner?: ClapCap;
  /** Address to bind (default SERVE_DEFAULTS.host). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** false: no token at all (--no-auth). */
  auth?: boolean;
  /** The access token (default: a random one). */
  token?: string;
  /** Roots besides the index's own that files may be read from and folders added from. */
  allow?: readonly string[];
  uploads?: Partial<UploadLimits>;
  /** How library changes are indexed. */
  indexing?: Pick<IndexRunOptions, 'batchSize' | 'decodeThreads'>;
  /** The built page (default: the package's dist/web). */
  webRoot?: string;
  /** Where internal errors are logged (default stderr). */
  log?: (line: string) => void;
}

export interface RunningServer {
  /** The address to open: with ?token= when every request needs it. */
  url: string;
  /** The base address (no token). */
  origin: string;
  token: string | null;
  auth: AuthMode;
  app: FastifyInstance;
  context: ServerContext;
  /**
   * Stops listening. A library change still running goes on (await `context.library.idle()`); a
   * process may also just exit: indexing commits batch by batch, so a stop loses at most one batch.
   */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/** Security headers on every response; the policy keeps the page to its own scripts, styles and media. */
const HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; '),
};

/** The host to put in the printed address: a reachable one for wildcard binds. */
function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') {
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
    return '127.0.0.1';
  }
  return host.includes(':') ? `[${host}]` : host;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const host = options.host ?? SERVE_DEFAULTS.host;
  const loopback = LOOPBACK.has(host);
  const mode: AuthMode = options.auth === false ? 'none' : loopback ? 'writes' : 'all';
  const token = mode === 'none' ? null : (options.token ?? newToken());
  const access = new Access(mode, token, loopback);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const ctx: ServerContext = {
    clap: options.clap,
    index: options.index,
    captioner: options.captioner,
    access,
    guard: new PathGuard(options.allow ?? [], () => options.index.roots),
    library: new Library(options.index, options.indexing),
    media: new Media(),
    uploads: new Uploads({ ...DEFAULT_UPLOAD_LIMITS, ...options.uploads }),
  };

  const app = Fastify({
    logger: false,
    bodyLimit: 64 << 10,
    requestTimeout: 120_000,
    return503OnClosing: true,
    forceCloseConnections: true,
  });
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'clap-ts sound library', version: packageVersion(), description: 'The API of `clap serve` (the page uses it too).' },
      components: {
        securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'x-clap-token' } },
      },
    },
  });
  await app.register(fastifyMultipart);
  // reply.sendFile (range requests, conditional GETs) for library audio; each call names its folder.
  await app.register(fastifyStatic, { root: '/', serve: false });

  app.addHook('onRequest', async (req, reply) => {
    const decision = access.check(req, req.routeOptions.config?.changesState === true);
    if (decision.kind === 'deny') {
      const api = req.url.startsWith('/api/') || req.url.startsWith('/openapi');
      return reply
        .code(decision.status)
        .type(api ? 'application/json' : 'text/plain; charset=utf-8')
        .send(api ? { error: decision.message } : `${decision.message}\n`);
    }
    if (decision.kind === 'redirect')
      return reply.code(302).header('set-cookie', decision.cookie).header('location', decision.location).send();
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(HEADERS);
    return payload;
  });
  app.setErrorHandler((err, req, reply) => {
    const d = describeError(err);
    if (d.internal) log(`clap serve: ${req.method} ${req.url.split('?')[0]}: ${(err as Error).stack ?? d.message}`);
    return reply.code(d.status).send({ error: d.message });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such address: ${req.method} ${req.url.split('?')[0]}` }));

  searchRoutes(app, ctx);
  libraryRoutes(app, ctx);
  mediaRoutes(app, ctx);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await pageRoutes(app, access, options.webRoot);

  await app.listen({ host, port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 0);
  access.bind(port);
  const origin = `http://${displayHost(host)}:${port}`;
  return {
    url: mode === 'all' ? `${origin}/?token=${token}` : `${origin}/`,
    origin,
    token,
    auth: mode,
    app,
    context: ctx,
    close: () => app.close(),
  };
}
