/** A `clap serve` server in-process on the tiny fixture model, over a small generated library. */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, type ServeOptions, startServer } from '../../src/server/index.js';
import { Clap } from '../../src/tasks/clap.js';
import { ClapIndex } from '../../src/tasks/clap-index.js';
import { fixturePath } from '../helpers/fixtures.js';
import { writeClips } from '../store/audio-helpers.js';

let clapPromise: Promise<Clap> | undefined;
export const tinyClap = (): Promise<Clap> =>
  (clapPromise ??= Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1 }));

export interface TestLibrary {
  root: string;
  lib: string;
  db: string;
  index: ClapIndex;
  server: RunningServer;
  /** fetch relative to the server, JSON helpers. */
  get(path: string, init?: RequestInit): Promise<Response>;
  json<T = unknown>(path: string, init?: RequestInit): Promise<{ status: number; body: T }>;
  close(): Promise<void>;
}

/**
 * `clips` generated clips in ROOT/lib, indexed (unless `indexed: false`), served with `options`;
 * `allowRoot` allows ROOT (folders beside lib may be added).
 */
export async function serveLibrary(
  clips: number,
  options: Partial<ServeOptions> & { indexed?: boolean; sliding?: boolean; allowRoot?: boolean } = {},
): Promise<TestLibrary> {
  const root = mkdtempSync(join(tmpdir(), 'clap-serve-'));
  const lib = join(root, 'lib');
  const db = join(root, 'db');
  writeClips(lib, clips);
  const clap = await tinyClap();
  const index = await ClapIndex.open(db, { clap, create: true, audio: options.sliding ? { sliding: { hopS: 0.5 } } : undefined });
  if (options.indexed !== false) await index.add([lib], { decodeThreads: 0 });
  const { indexed: _i, sliding: _s, allowRoot, ...serve } = options;
  const server = await startServer({
    clap,
    index,
    indexing: { decodeThreads: 0 },
    log: () => {},
    ...(allowRoot ? { allow: [root] } : {}),
    ...serve,
  });
  const get = (path: string, init?: RequestInit): Promise<Response> => fetch(`${server.origin}${path}`, { redirect: 'manual', ...init });
  return {
    root,
    lib,
    db,
    index,
    server,
    get,
    async json<T>(path: string, init?: RequestInit) {
      const r = await get(path, init);
      return { status: r.status, body: (await r.json()) as T };
    },
    async close() {
      await server.close();
      await server.context.library.idle();
      await index.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** A multipart body with one file and string fields. */
export function form(file: Uint8Array | null, fields: Record<string, string> = {}, name = 'clip.wav'): FormData {
  const f = new FormData();
  if (file) f.append('file', new Blob([new Uint8Array(file)]), name);
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  return f;
}

/** A GET with headers fetch() will not send (Host): status and body text. */
export function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
