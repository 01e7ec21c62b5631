import { ClapError, plural } from '../../errors.js';
// The HTTP stack (Fastify) is loaded when the server starts, not for every clap command.
import type { RunningServer } from '../../server/index.js';
import { TOKEN_HEADER } from '../../server/access.js';
import { SERVE_DEFAULTS } from '../../server/defaults.js';
import { DEFAULT_UPLOAD_LIMITS } from '../../server/uploads.js';
import { ClapCap } from '../../tasks/clapcap.js';
import { defineCommand, UsageError } from '../command.js';
import { onInterrupt } from '../interrupt.js';
import { explicitAudio, INDEX_AUDIO_OPTIONS, INDEX_MODEL_OPTIONS, openWithModel, RUN_OPTIONS } from './index-cmd.js';

/** Ports tried in turn from the default one when no --port is given. */
const PORTS_TRIED = 10;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

export const serve = defineCommand({
  path: ['serve'],
  usage: 'serve --db DIR --weights W',
  summary: 'A web page and JSON API for a sound library: search, listen, classify, index',
  details:
    'The first line of stdout is the address to open (with ?token= when every request needs the token). ' +
    'The page searches by text or by example, plays the matching windows, labels and captions dropped files, ' +
    'and indexes folders under --allow roots with live progress; its API is documented at /openapi.json.\n\n' +
    'Only files inside the indexed folders and --allow roots are ever read. On 127.0.0.1 (the default) changes to ' +
    'the library need the access token (the page has it); on any other address every request needs it. ' +
    'Ctrl-C stops the server; indexing from the page stops after its batch in flight (`clap index sync` resumes it).',
  options: {
    'caption-weights': { kind: 'path', arg: 'C', section: 'Model', help: 'clapcap weights: captions for dropped files' },
    ...INDEX_MODEL_OPTIONS,
    host: {
      kind: 'string',
      arg: 'H',
      default: SERVE_DEFAULTS.host,
      help: 'address to listen on; any other than 127.0.0.1 needs the access token (printed in the address)',
    },
    port: {
      kind: 'integer',
      arg: 'P',
      min: 0,
      max: 65535,
      default: SERVE_DEFAULTS.port,
      help: 'port (the next free one when left out; 0 = any)',
    },
    allow: {
      kind: 'path',
      arg: 'DIR',
      repeatable: true,
      help: 'folders under DIR may be added to the index from the page (and their files played)',
    },
    'no-auth': { kind: 'boolean', help: 'no access token, even off 127.0.0.1: anyone who reaches the port may use the library' },
    token: { kind: 'string', arg: 'T', help: 'the access token', defaultText: 'a new random one each run' },
    'max-upload-mb': {
      kind: 'number',
      arg: 'N',
      above: 0,
      default: DEFAULT_UPLOAD_LIMITS.bytes / 2 ** 20,
      help: 'largest dropped file, MB',
    },
    'max-upload-seconds': {
      kind: 'number',
      arg: 'S',
      above: 0,
      default: DEFAULT_UPLOAD_LIMITS.seconds,
      help: 'longest dropped file, seconds',
    },
    batch: { ...RUN_OPTIONS.batch, section: 'Indexing from the page' },
    'decode-threads': { ...RUN_OPTIONS['decode-threads'], section: 'Indexing from the page' },
    ...INDEX_AUDIO_OPTIONS,
  },
  async run(ctx) {
    const v = ctx.values;
    const host = v.host ?? SERVE_DEFAULTS.host;
    if (v['no-auth'] && v.token !== undefined) throw new UsageError('give --token or --no-auth, not both');
    if (v.token !== undefined && !/^[\x21-\x7e]{16,}$/.test(v.token))
      throw new UsageError('--token must be at least 16 printable characters without spaces');
    if (ctx.positionals.length > 0)
      throw new UsageError(`clap serve takes no paths (got '${ctx.positionals[0]}'): add folders from the page, or with clap index add`);

    const { clap, index } = await openWithModel(ctx, v.weights !== undefined, { audio: explicitAudio(v) });
    let captioner: ClapCap | undefined;
    let server: RunningServer | undefined;
    try {
      if (v['caption-weights'] !== undefined) captioner = await ClapCap.load({ weights: v['caption-weights'], threads: v.threads });
      const ports = v.port !== undefined ? [v.port] : Array.from({ length: PORTS_TRIED }, (_, i) => SERVE_DEFAULTS.port + i);
      for (const port of ports) {
        try {
          const { startServer } = await import('../../server/app.js');
          server = await startServer({
            clap,
            index,
            captioner,
            host,
            port,
            auth: !v['no-auth'],
            token: v.token,
            allow: v.allow ?? [],
            uploads: {
              ...(v['max-upload-mb'] !== undefined ? { bytes: Math.round(v['max-upload-mb'] * 2 ** 20) } : {}),
              ...(v['max-upload-seconds'] !== undefined ? { seconds: v['max-upload-seconds'] } : {}),
            },
            indexing: { batchSize: v.batch, decodeThreads: v['decode-threads'] },
          });
          break;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'EADDRINUSE' && port !== ports[ports.length - 1]) continue;
          if (code === 'EADDRINUSE') throw new ClapError(`port ${port} is in use: choose another with --port (0 = any free port)`);
          if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') throw new ClapError(`cannot listen on ${host}: no such local address`);
          throw e;
        }
      }
    } catch (e) {
      await index.close();
      await clap.release();
      await captioner?.release();
      throw e;
    }
    const running = server!;
    ctx.stdout.write(`${running.url}\n`);
    if (running.auth === 'all')
      ctx.stderr.write(`warning: listening on ${host}: anyone who can reach this machine and has the token can use this library\n`);
    if (running.auth === 'none' && !LOOPBACK.has(host))
      ctx.stderr.write(
        `warning: listening on ${host} with --no-auth: anyone who can reach this port can read the library and change the index\n`,
      );
    if (running.auth === 'writes') ctx.stderr.write(`library changes through the API need the header ${TOKEN_HEADER}: ${running.token}\n`);
    const stats = await index.stats();
    const allowed = running.context.guard.allowed;
    ctx.stderr.write(
      `serving ${index.dir}: ${plural(stats.files, 'file')}` +
        `${allowed.length ? `; folders may be added under ${allowed.join(', ')}` : ''} (Ctrl-C stops)\n`,
    );

    // Compile the text and audio towers now, so the first search and the first drop do not wait for them.
    void (async () => {
      await clap.embedText(['warm-up']);
      await clap.embedAudio([{ samples: new Float32Array(4410), sampleRate: 44100 }]);
    })().catch(() => undefined);

    try {
      await onInterrupt(ctx.stderr, 'stopping (indexing from the page stops after its batch in flight)', (signal) => {
        const stopped = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        const terminated = new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()));
        return Promise.race([stopped, terminated]);
      });
      await running.close();
      await running.context.library.stop();
    } finally {
      await index.close();
      await clap.release();
      await captioner?.release();
    }
  },
});
