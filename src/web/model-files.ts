/**
 * The files `clap export onnx` wrote, read in the browser: from a URL (the folder, or its clap-export.json)
 * with Cache Storage keeping each model file after its first download, or from File objects a user picked
 * or dropped. Every model file is checked against the size and sha256 clap-export.json states, so a stale
 * cache entry or a file of another export is refused by name. Progress is reported per file.
 */
import { ClapError } from '../errors.js';
import { CLAP_EXPORT_FILE, type ClapExport, type OnnxModelSpec, parseClapExport } from '../tasks/clap-export.js';

/** Where the files come from: a folder's URL (or its clap-export.json's), or the files themselves. */
export type ModelLocation = string | URL | FileList | readonly File[];

export interface LoadProgress {
  /** The file being read (clap-export.json, a .onnx file, tokenizer.json). */
  file: string;
  /** Bytes read so far, of `total` (0 while unknown). */
  loaded: number;
  total: number;
  /** 'network': downloading; 'cache': read from Cache Storage; 'file': a File given to load. */
  source: 'network' | 'cache' | 'file';
}

export type ProgressListener = (event: LoadProgress) => void;

/** The Cache Storage bucket model files are kept in. */
export const MODEL_CACHE = 'clap-ts-models';
/** Header of a cached response naming the sha256 it was checked against. */
const SHA_HEADER = 'x-clap-sha256';

/** The export's files, by name. */
export interface ModelFiles {
  /** Where they come from, for messages. */
  readonly where: string;
  readonly manifest: ClapExport;
  /** A model file, checked against its spec. */
  model(spec: OnnxModelSpec): Promise<Uint8Array>;
  /** A small file (the tokenizer) as JSON. */
  json(file: string): Promise<unknown>;
}

const isFileList = (m: ModelLocation): m is FileList | readonly File[] => typeof m !== 'string' && !(m instanceof URL);

/** Opens the export at `location`: reads and checks clap-export.json. */
export async function openModelFiles(location: ModelLocation, onProgress: ProgressListener, cache = true): Promise<ModelFiles> {
  return isFileList(location) ? fromFiles(Array.from(location), onProgress) : fromUrl(location, onProgress, cache);
}

async function sha256Hex(bytes: Uint8Array): Promise<string | null> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null; // outside a secure context: the size check still runs
  const digest = new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Throws unless `bytes` is the file `spec` describes. */
async function checkModel(bytes: Uint8Array, spec: OnnxModelSpec, where: string): Promise<void> {
  const stale = 'not the file clap-export.json describes (another export?)';
  if (bytes.length !== spec.bytes) throw new ClapError(`${stale}: ${bytes.length} bytes, expected ${spec.bytes}`, { subject: where });
  const sha = await sha256Hex(bytes);
  if (sha !== null && sha !== spec.sha256)
    throw new ClapError(`${stale}: sha256 ${sha.slice(0, 12)}…, expected ${spec.sha256.slice(0, 12)}…`, { subject: where });
}

function parseManifest(text: string, where: string): ClapExport {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ClapError(`is not JSON (${(e as Error).message})`, { subject: where });
  }
  return parseClapExport(json, where);
}

async function fromFiles(files: File[], onProgress: ProgressListener): Promise<ModelFiles> {
  const byName = new Map(files.map((f) => [f.name, f]));
  const where = 'the files given';
  const get = (name: string): File => {
    const f = byName.get(name);
    if (!f)
      throw new ClapError(`${name} is missing: give every file clap export onnx wrote (${[...byName.keys()].join(', ') || 'none given'})`, {
        subject: where,
      });
    return f;
  };
  const read = async (name: string): Promise<Uint8Array> => {
    const f = get(name);
    onProgress({ file: name, loaded: 0, total: f.size, source: 'file' });
    const bytes = new Uint8Array(await f.arrayBuffer());
    onProgress({ file: name, loaded: bytes.length, total: f.size, source: 'file' });
    return bytes;
  };
  const manifest = parseManifest(new TextDecoder().decode(await read(CLAP_EXPORT_FILE)), CLAP_EXPORT_FILE);
  return {
    where,
    manifest,
    async model(spec) {
      const bytes = await read(spec.file);
      await checkModel(bytes, spec, spec.file);
      return bytes;
    },
    json: async (name) => parseJsonFile(await read(name), name),
  };
}

function parseJsonFile(bytes: Uint8Array, name: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new ClapError(`is not JSON (${(e as Error).message})`, { subject: name });
  }
}

/** The folder URL and the manifest's URL for what a user passed (relative URLs against the page). */
function manifestUrl(location: string | URL): URL {
  const base = globalThis.location?.href;
  let url: URL;
  try {
    url = new URL(location, base);
  } catch {
    throw new ClapError('is not a URL', { subject: String(location) });
  }
  if (url.pathname.endsWith('.json')) return url;
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return new URL(CLAP_EXPORT_FILE, url);
}

async function fetchOk(url: URL, init?: RequestInit): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ClapError(`cannot be fetched (${(e as Error).message})`, { subject: url.href });
  }
  if (!response.ok)
    throw new ClapError(`HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, { subject: url.href });
  return response;
}

/** The body of `response`, reporting progress as it arrives. */
async function readBody(response: Response, file: string, total: number, onProgress: ProgressListener): Promise<Uint8Array> {
  const reader = response.body?.getReader();
  if (!reader) return new Uint8Array(await response.arrayBuffer());
  const out = new Uint8Array(total);
  const extra: Uint8Array[] = [];
  let loaded = 0;
  onProgress({ file, loaded, total, source: 'network' });
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    if (loaded + r.value.length <= total) out.set(r.value, loaded);
    else extra.push(r.value);
    loaded += r.value.length;
    onProgress({ file, loaded, total, source: 'network' });
  }
  // A body of another size than stated is refused by checkModel; keep its length right for the message.
  return loaded === total && extra.length === 0 ? out : new Uint8Array(loaded);
}

async function openCache(enabled: boolean): Promise<Cache | null> {
  if (!enabled || typeof caches === 'undefined') return null;
  try {
    return await caches.open(MODEL_CACHE);
  } catch {
    return null; // storage refused (private mode, quota): download every time
  }
}

/** A model file from the cache when it holds this sha256, else downloaded, checked and cached. */
async function cachedModel(url: URL, spec: OnnxModelSpec, cache: Cache | null, onProgress: ProgressListener): Promise<Uint8Array> {
  const hit = await cache?.match(url);
  if (hit && hit.headers.get(SHA_HEADER) === spec.sha256) {
    const bytes = new Uint8Array(await hit.arrayBuffer());
    onProgress({ file: spec.file, loaded: bytes.length, total: spec.bytes, source: 'cache' });
    if (bytes.length === spec.bytes) return bytes;
  }
  const bytes = await readBody(await fetchOk(url), spec.file, spec.bytes, onProgress);
  await checkModel(bytes, spec, url.href);
  const headers = { 'content-type': 'application/octet-stream', [SHA_HEADER]: spec.sha256 };
  await cache?.put(url, new Response(bytes as Uint8Array<ArrayBuffer>, { headers })).catch(() => undefined);
  return bytes;
}

async function fromUrl(location: string | URL, onProgress: ProgressListener, useCache: boolean): Promise<ModelFiles> {
  const url = manifestUrl(location);
  // The manifest is always fetched afresh (revalidated): it names the sha256 the cached models must have.
  const text = await (await fetchOk(url, { cache: 'no-cache' })).text();
  onProgress({ file: CLAP_EXPORT_FILE, loaded: text.length, total: text.length, source: 'network' });
  const manifest = parseManifest(text, url.href);
  const cache = await openCache(useCache);
  return {
    where: url.href,
    manifest,
    model: (spec) => cachedModel(new URL(spec.file, url), spec, cache, onProgress),
    async json(name) {
      const fileUrl = new URL(name, url);
      const response = await fetchOk(fileUrl, { cache: 'no-cache' });
      const bytes = new Uint8Array(await response.arrayBuffer());
      onProgress({ file: name, loaded: bytes.length, total: bytes.length, source: 'network' });
      return parseJsonFile(bytes, fileUrl.href);
    },
  };
}
