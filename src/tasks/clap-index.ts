/**
 * `ClapIndex`: a sound library on disk, embedded once and searched by text, by example, or ranked
 * against a caption set (paper §2.3 retrieval).
 *
 *   const clap = await Clap.load({ weights: 'CLAP_weights_2023.pth' });
 *   const index = await ClapIndex.open('lib.clapdb', { clap, create: true });
 *   await index.add(['~/sounds']);                    // incremental: unchanged files are skipped
 *   const hits = await index.search('a door creaking in an empty hall', { top: 10 });
 *
 * Every vector is tagged with the model identity (weights hash, config hash, audio options); an index
 * opened with another model refuses to add or answer queries. Writes are batched into atomic store
 * commits, so a killed run loses at most the batch in flight and the next run resumes where it stopped.
 */
import { stat } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { ClapError } from '../errors.js';
import { AUDIO_DEFAULTS, type AudioInput, type DecodeOptions } from '../audio/index.js';
import {
  acquireWriteLock,
  hashConfig,
  identityMismatch,
  modelIdentity,
  readMeta,
  rowModelId,
  writeMeta,
  type IndexAudioOptions,
  type IndexMeta,
  type ModelIdentity,
  type WeightsFingerprint,
} from '../store/meta.js';
import { DEFAULT_ANN_THRESHOLD, LanceStore } from '../store/lance.js';
import type { AnnKind, CaptionHit, FileInfo, FileRecord, SearchHit, SearchMode, VectorIndexInfo, VectorStore } from '../store/store.js';
import { type FoundFile, walkAudio, type SkippedPath } from '../store/walk.js';
import type { Clap } from './clap.js';
import { defaultWorkers, type FileFrontend, fileFrontend, type FrontendOptions } from './pipeline.js';
import { type ClapConfig, type ClapFrontend, clapFamily, describeClap } from '../models/clap/index.js';
import { randomBytes } from 'node:crypto';

export type { AnnKind, CaptionHit, SearchHit, SearchMode, SkippedPath, IndexAudioOptions, ModelIdentity };

export interface ClapIndexOpenOptions {
  /** The model: needed to add files and to embed queries; checked against the index's model. */
  clap?: Clap;
  /** Create the index when the folder holds none (else opening a missing index fails). */
  create?: boolean;
  /**
   * Audio options for embedding. A new index records them; an existing one uses its own, and any
   * option given here must agree with it.
   */
  audio?: Partial<IndexAudioOptions>;
  /** Vector index policy for new indexes: 'auto' (default) builds IVF-PQ from `annThreshold` vectors. */
  ann?: AnnKind;
  annThreshold?: number;
  /** Recorded so that later commands may omit --weights / --config. */
  weightsPath?: string;
  configPath?: string;
}

export interface IndexProgress {
  /** Files finished (stored, unchanged, or skipped) out of `total` to examine. */
  done: number;
  total: number;
  path?: string;
  /** With a queue: files waiting in it or being embedded, and files embedded but not yet committed. */
  queued?: number;
  embedded?: number;
}

export interface IndexRunOptions {
  /** 7 s windows per store commit (default 8); the encoder runs at `Clap.audioBatch()`, or at this one when smaller. */
  batchSize?: number;
  /** Decode worker threads (default: `defaultWorkers()`, half the cores, 1–4); 0 decodes on the calling thread. */
  decodeThreads?: number;
  onProgress?: (p: IndexProgress) => void;
  /** Called for every file that could not be indexed. */
  onSkip?: (s: SkippedPath) => void;
  /** Called with news about the run that concern no single file (with a queue: a worker refusing batches). */
  onNote?: (message: string) => void;
  /** Changes the index's vector-index policy (recorded) before it is applied at the end of the run. */
  ann?: AnnKind;
  annThreshold?: number;
  /**
   * Stops the run early (Ctrl-C): the batch being embedded is committed, the rest is left for the next
   * run, and the report says `interrupted`. A walk stopped part-way prunes nothing.
   */
  signal?: AbortSignal;
  /**
   * Embed on queue workers (`clap worker`) instead of in this process: files are queued in batches on
   * the Redis server at `url` (redis://HOST:PORT[/DB]), and this process commits what the workers return.
   */
  queue?: QueueRunOptions;
}

export interface QueueRunOptions {
  url: string;
  /** Files per queued job (QUEUE_DEFAULTS.filesPerJob). */
  filesPerJob?: number;
}

export interface IndexReport {
  /** Files embedded for the first time. */
  added: number;
  /** Files re-embedded because their content changed. */
  updated: number;
  /** Files found unchanged (size and mtime, or content hash). */
  unchanged: number;
  /** Files dropped because they are gone. */
  removed: number;
  skipped: SkippedPath[];
  /** Files without an audio extension in walked folders. */
  ignored: number;
  /** Files in the index afterwards. */
  files: number;
  seconds: number;
  vectorIndex: VectorIndexInfo | null;
  /** The run was stopped by its `signal`; `pending` files found to (re-)embed were left for the next run. */
  interrupted: boolean;
  pending: number;
}

export interface IndexStats {
  files: number;
  windows: number;
  model: ModelIdentity;
  /**
   * The model's family in words ("msclap 2022 (Cnn14 + BERT)"); null for an index made before it was recorded
   * and not opened with its model since.
   */
  family: string | null;
  bytes: number;
}

export interface IndexSearchOptions {
  /** Results (default 10). */
  top?: number;
  /** Path glob (a pattern without '/' matches file names): '*.wav', 'drums/**'. */
  glob?: string;
  minDuration?: number;
  maxDuration?: number;
  /** 'auto' (default): the ANN index when there is one; 'exact': a full scan; 'ann': the index, required. */
  mode?: SearchMode;
  nprobes?: number;
  refineFactor?: number;
  /** Per-window (sliding indexes, default there) or per-file vectors. */
  level?: 'file' | 'window';
}

/**
 * A text, a sound (a file path, or encoded bytes such as an upload, with `decode` options such as
 * `maxSeconds` for untrusted input), or a raw vector.
 */
export type IndexQuery = string | { text: string } | { audio: AudioInput; decode?: DecodeOptions } | { vector: Float32Array };

const DEFAULT_AUDIO: IndexAudioOptions = { channels: AUDIO_DEFAULTS.channels, crop: AUDIO_DEFAULTS.crop, sliding: false };

/** What indexing and search do when an option is left out (the CLI's help shows these). */
export const INDEX_DEFAULTS = { batchSize: 8, top: 10, ann: 'auto' } as const;
/** Queue indexing defaults (IndexRunOptions.queue). */
export const QUEUE_DEFAULTS = { filesPerJob: 16 } as const;

const identityCache = new WeakMap<object, { weights: string; config: string; file?: WeightsFingerprint }>();

/**
 * The identity of `clap` used with `audio` options. The weights hash covers the tensors (so a .pth and
 * its .safetensors agree); it takes ~1 s per GB once per Clap, and is skipped when `known` fingerprints
 * the same weights file (path, size, mtime).
 */
export async function clapIdentity(
  clap: Clap,
  audio: IndexAudioOptions,
  known?: WeightsFingerprint,
): Promise<{ identity: ModelIdentity; file?: WeightsFingerprint }> {
  let cached = identityCache.get(clap);
  if (!cached) {
    let fp: Omit<WeightsFingerprint, 'hash'> | undefined;
    const path = clap.weightsPath !== undefined ? resolve(clap.weightsPath) : undefined;
    if (path !== undefined) {
      try {
        const st = await stat(path);
        fp = { path, size: st.size, mtimeMs: st.mtimeMs };
      } catch {
        /* read below through clap.weights, which explains */
      }
    }
    const weights =
      fp && known && known.path === fp.path && known.size === fp.size && known.mtimeMs === fp.mtimeMs
        ? known.hash
        : await clap.weightsHash();
    cached = { weights, config: hashConfig(identityConfig(clap.config)), file: fp && { ...fp, hash: weights } };
    identityCache.set(clap, cached);
  }
  return { identity: modelIdentity({ weights: cached.weights, config: cached.config, dim: clap.config.dProj, audio }), file: cached.file };
}

/**
 * The config as an index's identity records it: msclap 2023's in the shape indexes were built with before
 * there were families (so they stay valid), every other family with its name.
 */
function identityConfig(c: ClapConfig): unknown {
  if (clapFamily(c) === 'msclap-2023' && c.audio.type === 'htsat' && c.text?.type !== 'bert') {
    const { clapcap, dProj, audioPrefix } = c;
    return {
      htsat: c.audio.htsat,
      text: c.text?.gpt2,
      dProj,
      audioPrefix,
      textPrefix: c.text ? c.textPrefix : null,
      ...(clapcap ? { clapcap } : {}),
    };
  }
  return { family: describeClap(c), config: c };
}

function mergeAudio(base: IndexAudioOptions, given: Partial<IndexAudioOptions> | undefined): IndexAudioOptions {
  const out: IndexAudioOptions = { ...base };
  for (const [k, v] of Object.entries(given ?? {})) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  if (out.cropOffset === undefined) delete out.cropOffset;
  if (out.seed === undefined) delete out.seed;
  return out;
}

/** The frontend options of an index's audio settings, for `frontend` the model's (ClapFrontend). */
export function loadOptionsOf(a: IndexAudioOptions, frontend?: ClapFrontend): FrontendOptions {
  return {
    ...(frontend ? { model: frontend } : {}),
    channels: a.channels,
    crop: a.crop,
    cropOffset: a.cropOffset,
    seed: a.seed,
    sliding: a.sliding ? { hopS: a.sliding.hopS } : false,
  };
}

function meanOf(vs: Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0].length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i] += v[i] / vs.length;
  return out;
}

const NOT_INDEXED = 'not in the index (no indexed file at or under it, and no indexed folder holds it)';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Whether a walk of `roots` reaches `path`: under a root, with no removed path between the root and it. */
function inScope(path: string, roots: readonly string[], excluded: readonly string[]): boolean {
  return roots.some((r) => isUnder(path, r) && !excluded.some((e) => e !== r && isUnder(e, r) && isUnder(path, e)));
}

/** Store commits between compactions during a run (each commit adds a table version and a small fragment). */
const COMPACT_EVERY = 512;

/** One file's embedding, made locally or by a queue worker: frontend facts and the vectors of its 7 s windows. */
export interface EmbeddedFile {
  hash: string;
  durationS: number;
  sourceSampleRate: number;
  channels: number;
  starts: number[];
  ends: number[];
  vectors: Float32Array[];
}

type Decoded = Extract<FileFrontend, { unchanged: false }>;

/**
 * Runs the audio encoder over decoded files' windows; per file, its embedding. `batchSize` (the windows of one
 * commit) caps the encoder's runs, which otherwise take the batch calibrated for this CPU, as `embedAudio` does.
 */
export async function embedDecoded(clap: Clap, decoded: readonly Decoded[], batchSize: number): Promise<EmbeddedFile[]> {
  if (decoded.length === 0) return [];
  const vectors = await clap.embedLogMels(
    decoded.flatMap((d) => d.logmels),
    Math.min(batchSize, await clap.audioBatch()),
    decoded.flatMap((d) => d.isLonger ?? d.logmels.map(() => false)),
  );
  let k = 0;
  return decoded.map((d) => {
    const n = d.logmels.length;
    k += n;
    return {
      hash: d.hash,
      durationS: d.durationS,
      sourceSampleRate: d.sourceSampleRate,
      channels: d.channels,
      starts: d.starts,
      ends: d.ends,
      vectors: vectors.slice(k - n, k),
    };
  });
}

/**
 * @internal What a run hands to whatever makes its embeddings (this process, or queue workers): the files
 * to (re-)embed, and the one commit path every batch goes through.
 */
export interface RunContext {
  todo: readonly FoundFile[];
  /** The stored content hash of a file indexed with this model (an unchanged file is then not decoded). */
  knownHash(file: FoundFile): string | undefined;
  model: ModelIdentity;
  /** The index's queue key (names its results queue). */
  key: string;
  /** 7 s windows per store commit (and at most per encoder run). */
  batchSize: number;
  signal?: AbortSignal;
  /** Whether a path still belongs in the index (under a root, not removed): late results for others are dropped. */
  wanted(path: string): boolean;
  /** One atomic store commit: embedded files, and files whose content is unchanged (new mtime only). */
  commit(embedded: readonly { file: FoundFile; embedded: EmbeddedFile }[], touched: readonly FoundFile[]): Promise<void>;
  /** A file that could not be indexed (reported, counted as done, retried by the next run). */
  fail(path: string, reason: string): void;
  /** Progress with the producer's own counts. */
  progress(counts: Pick<IndexProgress, 'queued' | 'embedded'>): void;
  /** Something the user should know that is not about one file (a worker refusing batches). */
  note(message: string): void;
  /** This run's files not yet committed or failed. */
  remaining(): number;
}

/** @internal How a run's embedding ended: `pending` files were left for the next run when interrupted. */
export interface RunOutcome {
  interrupted: boolean;
  pending: number;
}

/**
 * Local embedding: decode in worker threads (prefetching ahead) while this thread runs the encoder, batch by
 * batch. The workers are the model's (kept warm between runs, as for embedAudio): starting them cost every run.
 */
async function embedLocally(clap: Clap, ctx: RunContext, threads: number): Promise<RunOutcome> {
  const { todo, batchSize } = ctx;
  await clap.audioBatch(); // a calibration due now runs before the decode workers share the CPU
  const pool = threads > 0 ? clap.frontendPool(threads) : undefined;
  const audioOptions = loadOptionsOf(ctx.model.audio, clap.config.frontend);
  const prefetch = Math.max(2, threads * 2) + batchSize;
  const inflight: Promise<FileFrontend>[] = [];
  let next = 0;
  const launch = (): void => {
    while (inflight.length < prefetch && next < todo.length) {
      const f = todo[next++];
      const knownHash = ctx.knownHash(f);
      const p = pool ? pool.processFile(f.path, audioOptions, knownHash) : fileFrontend(f.path, audioOptions, knownHash);
      p.catch(() => undefined); // handled when its turn comes
      inflight.push(p);
    }
  };
  let batch: { file: FoundFile; decoded: Decoded }[] = [];
  let batchWindows = 0;
  let touched: FoundFile[] = [];
  const flush = async (): Promise<void> => {
    const embedded = await embedDecoded(
      clap,
      batch.map((b) => b.decoded),
      batchSize,
    );
    await ctx.commit(
      batch.map((b, i) => ({ file: b.file, embedded: embedded[i] })),
      touched,
    );
    batch = [];
    batchWindows = 0;
    touched = [];
  };
  launch();
  for (let i = 0; i < todo.length; i++) {
    if (ctx.signal?.aborted) {
      // Files whose content is unchanged are cheap to keep; the decoded batch is left for the next run.
      batch = [];
      await flush();
      return { interrupted: true, pending: ctx.remaining() };
    }
    const result = await inflight.shift()!;
    launch();
    const file = todo[i];
    if (!result.ok) ctx.fail(file.path, result.error);
    else if (result.unchanged) {
      touched.push(file);
      if (touched.length >= 256) await flush();
    } else {
      batch.push({ file, decoded: result });
      batchWindows += result.logmels.length;
      if (batchWindows >= batchSize) await flush();
    }
  }
  await flush();
  return { interrupted: false, pending: 0 };
}

export class ClapIndex {
  private constructor(
    readonly dir: string,
    private meta: IndexMeta,
    private readonly store: VectorStore,
    private readonly clap: Clap | undefined,
  ) {}

  /** Opens (or with `create`, creates) the index in folder `dir`. */
  static async open(dir: string, options: ClapIndexOpenOptions = {}): Promise<ClapIndex> {
    const root = resolve(dir);
    let meta = readMeta(root);
    if (!meta) {
      if (!options.create) throw new ClapError('no index here (create one with `clap index add PATH... --db DIR`)', { subject: root });
      if (!options.clap) throw new ClapError('creating an index needs the model (weights)', { subject: root });
      const audio = mergeAudio(DEFAULT_AUDIO, options.audio);
      if (audio.sliding && !(audio.sliding.hopS > 0))
        throw new ClapError(`hop must be a positive number of seconds, got ${audio.sliding.hopS}`);
      const { identity, file } = await clapIdentity(options.clap, audio);
      meta = {
        version: 1,
        backend: 'lancedb',
        model: identity,
        family: options.clap.description,
        weightsPath: options.weightsPath ? resolve(options.weightsPath) : file?.path,
        weightsFile: file,
        configPath: options.configPath,
        roots: [],
        ann: options.ann ?? INDEX_DEFAULTS.ann,
        annThreshold: options.annThreshold,
        created: new Date().toISOString(),
      };
      const release = acquireWriteLock(root);
      try {
        writeMeta(root, meta);
      } finally {
        release();
      }
    } else if (options.clap) {
      const { identity: given, file } = await clapIdentity(options.clap, mergeAudio(meta.model.audio, options.audio), meta.weightsFile);
      const diff = identityMismatch(meta.model, given);
      if (diff) {
        throw new ClapError(
          `this index was built with a different model or audio options (${diff}); ` +
            `use the weights, config and audio options it was built with${meta.weightsPath ? ` (${meta.weightsPath})` : ''}, or another --db`,
          { subject: root },
        );
      }
      // Same weights, another file (moved, copied, touched): fingerprint it, saved with the next write.
      if (
        file &&
        (file.path !== meta.weightsFile?.path || file.size !== meta.weightsFile.size || file.mtimeMs !== meta.weightsFile.mtimeMs)
      ) {
        meta = { ...meta, weightsFile: file, weightsPath: file.path };
      }
      if (meta.family === undefined) meta = { ...meta, family: options.clap.description };
    }
    if (meta.backend !== 'lancedb') throw new ClapError(`unknown index backend '${meta.backend}'`, { subject: root });
    const store = await LanceStore.open(root, { dim: meta.model.dim });
    return new ClapIndex(root, meta, store, options.clap);
  }

  get model(): ModelIdentity {
    return this.meta.model;
  }

  get roots(): readonly string[] {
    return this.meta.roots;
  }

  /** Paths under the roots that `remove` took out, left out of walks until added again. */
  get excluded(): readonly string[] {
    return this.meta.excluded ?? [];
  }

  /** The weights / config paths recorded at creation. */
  get recorded(): { weightsPath?: string; configPath?: string } {
    return { weightsPath: this.meta.weightsPath, configPath: this.meta.configPath };
  }

  private needClap(): Clap {
    if (!this.clap) throw new ClapError('this operation needs the model: open the index with { clap }');
    return this.clap;
  }

  private get level(): 'file' | 'window' {
    return this.meta.model.audio.sliding ? 'window' : 'file';
  }

  /** Adds files and folders (recursively); unchanged files are skipped, changed ones re-embedded. */
  async add(paths: readonly string[], options: IndexRunOptions = {}): Promise<IndexReport> {
    if (paths.length === 0) throw new ClapError('give at least one file or folder to index');
    const roots = paths.map((p) => resolve(p));
    return this.run(roots, false, options);
  }

  /** Re-walks every folder and file added so far: new files are added, changed ones re-embedded, deleted ones dropped. */
  async sync(options: IndexRunOptions = {}): Promise<IndexReport> {
    return this.run([...this.meta.roots], true, options);
  }

  /**
   * Drops files (exact paths, or everything under a folder) from the index, for good: a removed root is
   * no longer walked, and a removed path under a root is left out of later walks (`sync`, `add` of the
   * root) until `add` names it or a folder above it again. Returns the number of files dropped; each
   * path that was not in the index (no indexed file at or under it, not under a root, or removed
   * already) goes to `onNotIndexed` and changes nothing.
   */
  async remove(paths: readonly string[], options: { onNotIndexed?: (s: SkippedPath) => void } = {}): Promise<number> {
    const targets = [...new Set(paths.map((p) => resolve(p)))];
    const release = acquireWriteLock(this.dir);
    try {
      const files = await this.store.listFiles();
      const excluded = this.meta.excluded ?? [];
      const gone = new Set<string>();
      let roots = this.meta.roots;
      let exclude = excluded;
      for (const t of targets) {
        const under = files.filter((f) => isUnder(f.path, t));
        const rootsUnder = roots.filter((r) => isUnder(r, t));
        const covered = roots.some((r) => r !== t && isUnder(t, r));
        if (under.length === 0 && rootsUnder.length === 0) {
          // Nothing indexed there: only a path that a walk would reach (it exists, under a root) is worth excluding.
          const reason = !covered || !(await exists(t)) ? NOT_INDEXED : exclude.some((e) => isUnder(t, e)) ? 'removed already' : null;
          if (reason) {
            options.onNotIndexed?.({ path: t, reason });
            continue;
          }
        }
        for (const f of under) gone.add(f.path);
        roots = roots.filter((r) => !isUnder(r, t));
        exclude = exclude.filter((e) => !isUnder(e, t));
        if (covered && !exclude.some((e) => isUnder(t, e))) exclude = [...exclude, t];
      }
      // An exclusion only means something below a root.
      exclude = exclude.filter((e) => roots.some((r) => r !== e && isUnder(e, r)));
      if (roots.length !== this.meta.roots.length || exclude.join('\0') !== excluded.join('\0')) {
        // The exclusions first: a run killed before the commit below leaves files that `sync` prunes.
        this.meta = { ...this.meta, roots, excluded: exclude };
        writeMeta(this.dir, this.meta);
      }
      if (gone.size) await this.store.commit([], [...gone]);
      return gone.size;
    } finally {
      release();
    }
  }

  private async run(roots: string[], prune: boolean, options: IndexRunOptions): Promise<IndexReport> {
    const clap = options.queue ? undefined : this.needClap();
    const t0 = performance.now();
    const batchSize = options.batchSize ?? INDEX_DEFAULTS.batchSize;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ClapError(`batch size must be a positive integer, got ${batchSize}`);
    const release = acquireWriteLock(this.dir);
    try {
      const { existing, excluded, queueKey } = await this.recordRun(roots, prune, options);
      const walked = await walkAudio(roots, { exclude: [this.dir], removed: excluded, signal: options.signal });
      const report: IndexReport = {
        added: 0,
        updated: 0,
        unchanged: 0,
        removed: 0,
        skipped: [],
        ignored: walked.ignored,
        files: 0,
        seconds: 0,
        vectorIndex: null,
        interrupted: false,
        pending: 0,
      };
      const finish = async (maintain: boolean): Promise<IndexReport> => {
        report.vectorIndex = maintain
          ? await this.store.maintain({ ann: this.meta.ann, annThreshold: this.meta.annThreshold, level: this.level, compact: changed > 0 })
          : await this.store.vectorIndex();
        report.files = (await this.store.counts()).files;
        report.seconds = (performance.now() - t0) / 1000;
        return report;
      };
      let changed = 0;
      if (options.signal?.aborted) {
        // A partial walk says nothing about what is gone: stop before pruning anything.
        report.interrupted = true;
        return await finish(false);
      }
      const skip = (s: SkippedPath): void => {
        report.skipped.push(s);
        options.onSkip?.(s);
      };
      const stored = new Map((await this.store.listFiles()).map((f) => [f.path, f]));
      const modelId = rowModelId(this.meta.model);

      if (prune) report.removed = changed = await this.pruneGone(roots, existing, walked.files, stored, skip);
      for (const s of walked.skipped) if (!(prune && !existing.includes(s.path) && roots.includes(s.path))) skip(s);

      const todo = walked.files.filter((f) => {
        const s = stored.get(f.path);
        return !s || s.size !== f.size || s.mtimeMs !== f.mtimeMs || s.model !== modelId;
      });
      report.unchanged = walked.files.length - todo.length;
      const total = todo.length;
      let done = 0;
      let commits = 0;
      /** This run's files not yet committed or failed. */
      const open = new Set(todo.map((f) => f.path));
      /** Files the store holds (this process is its only writer). */
      const present = new Set(stored.keys());
      const progress = (p: Omit<IndexProgress, 'total'> = { done }): void => options.onProgress?.({ ...p, total });
      progress();
      const ctx: RunContext = {
        todo,
        knownHash: (f) => {
          const s = stored.get(f.path);
          return s && s.model === modelId ? s.hash : undefined;
        },
        model: this.meta.model,
        key: queueKey ?? '',
        batchSize,
        signal: options.signal,
        wanted: (path) => inScope(path, this.meta.roots, this.excluded),
        commit: async (embedded, touched) => {
          const records: FileRecord[] = embedded.map(({ file, embedded: e }) => this.recordOf(file, e, modelId));
          if (touched.length) {
            // Same content, new mtime: re-put the stored vectors with the new metadata.
            const old = new Map((await this.store.getFiles(touched.map((t) => t.path))).map((r) => [r.path, r]));
            for (const t of touched) {
              const r = old.get(t.path);
              if (r) records.push({ ...r, size: t.size, mtimeMs: t.mtimeMs });
            }
          }
          if (records.length === 0) return;
          // Only new files: appended, which costs the same at any table size; a replace (merge-insert) joins on the
          // table's keys, ~0.6 s per commit at 5M rows. Either is one atomic commit, and a batch delivered
          // again finds its files present and replaces them, so each file is stored once.
          if (records.every((r) => !present.has(r.path))) await this.store.append(records);
          else await this.store.commit(records);
          for (const r of records) present.add(r.path);
          changed += records.length;
          // Long runs: compact (and fold new rows into the vector index) every so often, not only at the end.
          if (++commits % COMPACT_EVERY === 0)
            await this.store.maintain({ ann: this.meta.ann, annThreshold: this.meta.annThreshold, level: this.level });
          // Counted once per file of this run (a queue may deliver a batch twice; the commit is idempotent).
          for (const { file } of embedded) {
            if (!open.delete(file.path)) continue;
            if (stored.has(file.path)) report.updated++;
            else report.added++;
            progress({ done: ++done, path: file.path });
          }
          for (const t of touched) {
            if (!open.delete(t.path)) continue;
            report.unchanged++;
            progress({ done: ++done, path: t.path });
          }
        },
        fail: (path, reason) => {
          if (!open.delete(path)) return;
          skip({ path, reason });
          progress({ done: ++done, path });
        },
        progress: (counts) => progress({ done, ...counts }),
        note: (message) => options.onNote?.(message),
        remaining: () => open.size,
      };
      const outcome = options.queue
        ? await (await import('./queue/committer.js')).commitFromQueue(ctx, options.queue)
        : await embedLocally(clap!, ctx, options.decodeThreads ?? defaultWorkers());
      report.interrupted = outcome.interrupted;
      report.pending = outcome.pending;
      return await finish(!outcome.interrupted);
    } finally {
      release();
    }
  }

  /**
   * Records a run's roots, exclusions, ANN settings and queue key in the index's meta before anything is
   * walked, so a run killed part-way is still resumed by `sync`. Returns the roots that exist, the
   * exclusions in force and the queue key.
   */
  private async recordRun(
    roots: string[],
    prune: boolean,
    options: IndexRunOptions,
  ): Promise<{ existing: string[]; excluded: string[]; queueKey: string | undefined }> {
    const existing: string[] = [];
    for (const r of roots) if (await exists(r)) existing.push(r);
    const newRoots = existing.filter((r) => !this.meta.roots.includes(r));
    // Adding a removed path, or a folder above it, includes it again.
    const excluded = this.excluded.filter((e) => prune || !existing.some((r) => isUnder(e, r)));
    const ann = options.ann ?? this.meta.ann;
    const annThreshold = options.annThreshold ?? this.meta.annThreshold;
    const queueKey = options.queue ? (this.meta.queueKey ?? randomBytes(8).toString('hex')) : this.meta.queueKey;
    const onDisk = readMeta(this.dir);
    if (
      newRoots.length ||
      excluded.length !== this.excluded.length ||
      ann !== this.meta.ann ||
      annThreshold !== this.meta.annThreshold ||
      queueKey !== this.meta.queueKey ||
      onDisk?.weightsFile?.mtimeMs !== this.meta.weightsFile?.mtimeMs
    ) {
      this.meta = { ...this.meta, roots: [...this.meta.roots, ...newRoots], excluded, ann, annThreshold, queueKey };
      writeMeta(this.dir, this.meta);
    }
    return { existing, excluded, queueKey };
  }

  /**
   * Removes from the store (and from `stored`) the stored files the walk did not find, except under a root
   * that is missing (reported instead). Returns how many were removed.
   */
  private async pruneGone(
    roots: string[],
    existing: string[],
    found: readonly FoundFile[],
    stored: Map<string, unknown>,
    skip: (s: SkippedPath) => void,
  ): Promise<number> {
    const foundPaths = new Set(found.map((f) => f.path));
    const missingRoots = roots.filter((r) => !existing.includes(r));
    const gone: string[] = [];
    for (const path of stored.keys()) {
      if (foundPaths.has(path)) continue;
      // A root that vanished as a whole (unmounted disk?) keeps its files: drop them with remove().
      if (missingRoots.some((r) => isUnder(path, r))) continue;
      gone.push(path);
    }
    for (const r of missingRoots) skip({ path: r, reason: 'root is missing; its files stay indexed (remove it with `clap index remove`)' });
    if (gone.length) await this.store.commit([], gone);
    for (const g of gone) stored.delete(g);
    return gone.length;
  }

  /** The stored record of an embedded file (sliding windows: the mean vector for the file, and each window's). */
  private recordOf(file: FoundFile, e: EmbeddedFile, modelId: string): FileRecord {
    const info: FileInfo = {
      path: file.path,
      hash: e.hash,
      size: file.size,
      mtimeMs: file.mtimeMs,
      duration: e.durationS,
      sampleRate: e.sourceSampleRate,
      channels: e.channels,
    };
    if (!this.meta.model.audio.sliding) return { ...info, model: modelId, embedding: e.vectors[0] };
    return {
      ...info,
      model: modelId,
      embedding: meanOf(e.vectors),
      windows: e.vectors.map((v, w) => ({ start: e.starts[w], end: e.ends[w], embedding: v })),
    };
  }

  /** Embeds captions (one text each) for audio→text ranking; `replace` drops the others. */
  async addCaptions(texts: readonly string[], options: { replace?: boolean } = {}): Promise<number> {
    const unique = [...new Set(texts.map((t) => t.trim()).filter((t) => t.length > 0))];
    if (unique.length === 0) throw new ClapError('no captions given');
    const clap = this.needClap();
    const vectors = await clap.embedText(unique);
    const release = acquireWriteLock(this.dir);
    try {
      await this.store.putCaptions(unique, vectors, options.replace ?? false);
    } finally {
      release();
    }
    return (await this.store.counts()).captions;
  }

  /** The query vector: a text (or {text}), an audio file ({audio}), or a raw vector. */
  async queryVector(query: IndexQuery): Promise<Float32Array> {
    if (typeof query === 'object' && 'vector' in query) return query.vector;
    const clap = this.needClap();
    if (typeof query === 'string' || 'text' in query) {
      const text = typeof query === 'string' ? query : query.text;
      if (text.trim() === '') throw new ClapError('the search text is empty');
      return (await clap.embedText([text]))[0];
    }
    const [e] = await clap.embedAudio([query.audio], { ...query.decode, ...loadOptionsOf(this.meta.model.audio), pool: 'mean' });
    return e.embedding;
  }

  /** Files nearest to the query by cosine similarity, best first (sliding indexes: best window per file). */
  async search(query: IndexQuery, options: IndexSearchOptions = {}): Promise<SearchHit[]> {
    const top = options.top ?? INDEX_DEFAULTS.top;
    if (!Number.isInteger(top) || top < 1) throw new ClapError(`top must be a positive integer, got ${top}`);
    const vector = await this.queryVector(query);
    const level = options.level ?? this.level;
    if (level === 'window' && !this.meta.model.audio.sliding)
      throw new ClapError('this index has no per-window vectors (it was not built with sliding windows)');
    const excludePaths =
      typeof query === 'object' && 'audio' in query && typeof query.audio === 'string' ? [resolve(query.audio)] : undefined;
    return this.store.search({
      vector,
      top,
      level,
      mode: options.mode,
      nprobes: options.nprobes,
      refineFactor: options.refineFactor,
      filter: { glob: options.glob, minDuration: options.minDuration, maxDuration: options.maxDuration, excludePaths },
    });
  }

  /** Captions ranked for an audio file (or a vector), best first. */
  async rankCaptions(query: { audio: string } | { vector: Float32Array }, options: { top?: number } = {}): Promise<CaptionHit[]> {
    const top = options.top ?? INDEX_DEFAULTS.top;
    if ((await this.store.counts()).captions === 0)
      throw new ClapError('this index has no captions (add some with `clap index captions FILE.txt`)', { subject: this.dir });
    return this.store.searchCaptions(await this.queryVector(query), top);
  }

  async stats(): Promise<IndexStats & { captions: number; roots: readonly string[]; vectorIndex: VectorIndexInfo | null }> {
    const c = await this.store.counts();
    return {
      files: c.files,
      windows: c.windows,
      model: this.meta.model,
      family: this.meta.family ?? null,
      bytes: await this.store.bytes(),
      captions: c.captions,
      roots: this.meta.roots,
      vectorIndex: await this.store.vectorIndex(),
    };
  }

  /** Every indexed file's metadata. */
  async files(): Promise<(FileInfo & { model: string })[]> {
    return this.store.listFiles();
  }

  /** Builds (or drops the policy for) the ANN index now: 'ivf-pq' / 'hnsw' force one, 'none' never builds. */
  async optimize(ann?: AnnKind): Promise<VectorIndexInfo | null> {
    const release = acquireWriteLock(this.dir);
    try {
      if (ann && ann !== this.meta.ann) {
        this.meta = { ...this.meta, ann };
        writeMeta(this.dir, this.meta);
      }
      return await this.store.maintain({ ann: this.meta.ann, annThreshold: this.meta.annThreshold, level: this.level });
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}

export { DEFAULT_ANN_THRESHOLD };
