/**
 * Zero-shot evaluation of a loaded dataset, scored as the paper's §2.3 does: similarities are
 * msclap's `compute_similarity` (cosine × exp(logit_scale)); a softmax across classes for
 * multi-class tasks, a sigmoid per class for multi-label tasks, the raw similarities for retrieval.
 * Several templates make a prompt ensemble: each class's text embedding is the mean of its
 * L2-normalised template embeddings. Embeddings go through an optional on-disk cache.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ClapError, plural } from '../../errors.js';
import { AUDIO_DEFAULTS, type AudioInput } from '../../audio/index.js';
import { applyTemplate, type AudioEmbedOptions, type Clap, isInputError, scoreLabels } from '../clap.js';
import { stripSubject } from '../pipeline.js';
import { normalized } from '../similarity.js';
import { type CacheShard, type EmbeddingCache, sha256 } from './cache.js';
import { ciderD, spider } from './cider.js';
import type { EvalDataset, EvalItem } from './datasets/index.js';
import {
  accuracy,
  argmax,
  bidirectionalRetrieval,
  confusionMatrix,
  f1Dcase2017,
  meanAveragePrecision,
  oneHot,
  type RetrievalDirection,
  thresholdDecisions,
} from './metrics.js';

/** Audio options that change an embedding (the cache keys on them). */
export type EvalAudioOptions = Omit<AudioEmbedOptions, 'onProgress' | 'name'>;

/** What an evaluation does when an option is left out (the CLI's help shows these). */
export const EVAL_DEFAULTS = { threshold: 0.5 } as const;

export interface EvalOptions {
  /** Prompt templates ('{}' = the class text, else appended); several make an ensemble. Default: the dataset's. */
  templates?: readonly string[];
  audio?: EvalAudioOptions;
  /** Embedding cache; none when absent. */
  cache?: EmbeddingCache;
  /** Multi-label decisions for F1: probability > threshold (default 0.5). */
  threshold?: number;
  /** Leave out clips that fail to decode (listed in the result) instead of stopping. */
  skipErrors?: boolean;
  /** Called as audio clips are embedded or found in the cache. */
  onProgress?: (done: number, total: number) => void;
}

export interface PerClass {
  name: string;
  /** Clips of the class. */
  n: number;
  /** Multi-class: fraction of the class's clips predicted as it (recall). */
  accuracy?: number;
  ap?: number;
  f1?: number;
}

export interface ClassPrediction {
  id: string;
  truth: string[];
  predicted: string;
  probability: number;
}

export interface EvalDetails {
  title: string;
  split: string;
  templates: string[];
  classNames: string[];
  multiLabel?: boolean;
  threshold?: number;
  confusion?: number[][];
  perClass?: PerClass[];
  predictions?: ClassPrediction[];
  retrieval?: { audioToText: RetrievalDirection; textToAudio: RetrievalDirection; clips: number; texts: number };
  /** Clips that failed to decode (with skipErrors). */
  skipped: { path: string; error: string }[];
  /** Metadata entries without audio (allowMissing). */
  missing: string[];
  notes: string[];
  cache?: { dir: string; audioHits: number; audioMisses: number; textHits: number; textMisses: number };
}

export interface EvalResult {
  task: string;
  n: number;
  classes: number;
  metrics: Record<string, number>;
  details: EvalDetails;
}

/** Options as they enter the cache key (only what changes an embedding). */
export function audioCacheKeyOptions(o: EvalAudioOptions = {}): Record<string, unknown> | null {
  if (o.crop === 'random' && o.seed === undefined && o.cropOffset === undefined) return null; // not reproducible
  const sliding = o.sliding ? (o.sliding === true ? {} : o.sliding) : null;
  return {
    channels: o.channels ?? AUDIO_DEFAULTS.channels,
    crop: o.cropOffset !== undefined ? null : (o.crop ?? AUDIO_DEFAULTS.crop),
    cropOffset: o.cropOffset ?? null,
    seed: o.crop === 'random' && o.seed !== undefined ? String(o.seed) : null,
    sliding: sliding
      ? `${sliding.hopS ?? AUDIO_DEFAULTS.hopS}/${sliding.tail ?? AUDIO_DEFAULTS.tail}/${sliding.minTailS ?? AUDIO_DEFAULTS.minTailS}`
      : null,
    pool: sliding ? (o.pool ?? 'mean') : null,
    ffmpeg: o.ffmpeg === undefined || o.ffmpeg === true ? null : String(o.ffmpeg),
  };
}

/**
 * Embeds the items' audio (projected embeddings, not normalised), via the cache when given. Files are
 * hashed by content; .au files are decoded here. Returns undefined for items skipped on errors.
 */
export async function embedItems(
  clap: Clap,
  items: readonly EvalItem[],
  options: Pick<EvalOptions, 'audio' | 'cache' | 'skipErrors' | 'onProgress'> = {},
): Promise<{ embeddings: (Float32Array | undefined)[]; skipped: { path: string; error: string }[]; shard?: CacheShard }> {
  const keyOptions = audioCacheKeyOptions(options.audio);
  const shard = options.cache && keyOptions ? await options.cache.audio(clap, keyOptions) : undefined;
  if (options.audio?.pool === 'none') throw new ClapError("evaluation needs one embedding per clip: pool 'none' is not supported");
  const embeddings: (Float32Array | undefined)[] = new Array(items.length).fill(undefined);
  const skipped: { path: string; error: string }[] = [];
  const chunk = Math.max(8, options.audio?.batchSize ?? 8) * 4;
  const fail = (path: string, e: unknown): void => {
    if (!options.skipErrors) throw e instanceof ClapError ? e : new ClapError((e as Error).message, { subject: path, cause: e });
    skipped.push({ path, error: stripSubject((e as Error).message, path) });
  };
  let done = 0;
  for (let s = 0; s < items.length; s += chunk) {
    const todo: { index: number; key: Buffer; input: AudioInput }[] = [];
    for (let i = s; i < Math.min(items.length, s + chunk); i++) {
      const path = items[i].path;
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(path);
      } catch (e) {
        fail(path, new ClapError(`cannot read audio (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: path }));
        done++;
        continue;
      }
      const key = sha256(bytes);
      const hit = shard?.get(key);
      if (hit) {
        embeddings[i] = hit;
        done++;
        continue;
      }
      todo.push({ index: i, key, input: path });
    }
    options.onProgress?.(done, items.length);
    if (todo.length === 0) continue;
    const base = done;
    const results = await clap.embedAudio(
      todo.map((t) => t.input),
      {
        ...options.audio,
        errors: options.skipErrors ? 'return' : 'throw',
        onProgress: (n) => options.onProgress?.(base + n, items.length),
      },
    );
    const fresh: [Buffer, Float32Array][] = [];
    results.forEach((r, j) => {
      const t = todo[j];
      if (isInputError(r)) skipped.push({ path: items[t.index].path, error: r.error });
      else {
        embeddings[t.index] = r.embedding;
        fresh.push([t.key, r.embedding]);
      }
    });
    shard?.put(fresh);
    done += todo.length;
    options.onProgress?.(done, items.length);
  }
  return { embeddings, skipped, shard };
}

/** Text embeddings (not normalised) through the cache; duplicates are embedded once. */
export async function embedTexts(
  clap: Clap,
  texts: readonly string[],
  cache?: EmbeddingCache,
): Promise<{ embeddings: Float32Array[]; shard?: CacheShard }> {
  const shard = cache ? await cache.text(clap) : undefined;
  const found = new Map<string, Float32Array>();
  const misses: string[] = [];
  for (const t of new Set(texts)) {
    const hit = shard?.get(sha256(t));
    if (hit) found.set(t, hit);
    else misses.push(t);
  }
  for (let s = 0; s < misses.length; s += 256) {
    const part = misses.slice(s, s + 256);
    const emb = await clap.embedText(part);
    part.forEach((t, i) => found.set(t, emb[i]));
    shard?.put(part.map((t, i) => [sha256(t), emb[i]]));
  }
  return { embeddings: texts.map((t) => found.get(t)!), shard };
}

/** Class text embeddings: per class the mean of its L2-normalised template embeddings (one template: itself). */
export async function classTextEmbeddings(
  clap: Clap,
  prompts: readonly string[],
  templates: readonly string[],
  cache?: EmbeddingCache,
): Promise<{ embeddings: Float32Array[]; shard?: CacheShard }> {
  if (templates.length === 0) throw new ClapError('no prompt templates given');
  const texts = templates.flatMap((t) => prompts.map((p) => applyTemplate(t, p)));
  const { embeddings, shard } = await embedTexts(clap, texts, cache);
  if (templates.length === 1) return { embeddings, shard };
  const k = prompts.length;
  const out = prompts.map((_, c) => {
    const acc = new Float64Array(embeddings[0].length);
    for (let t = 0; t < templates.length; t++)
      normalized(embeddings[t * k + c]).forEach((x, i) => {
        acc[i] += x / templates.length;
      });
    return Float32Array.from(acc);
  });
  return { embeddings: out, shard };
}

/** Probabilities [clip][class]: softmax across classes, or a sigmoid per class (multi-label). */
export function zeroShotProbabilities(similarity: number[][], multiLabel: boolean): number[][] {
  if (similarity.length === 0) return [];
  const keys = similarity[0].map((_, i) => String(i));
  return scoreLabels(similarity, keys, multiLabel).map((r) => keys.map((k) => r[k]));
}

/** Runs a dataset's zero-shot evaluation (classification and/or retrieval) with `clap`. */
export async function evaluateDataset(clap: Clap, dataset: EvalDataset, options: EvalOptions = {}): Promise<EvalResult> {
  if (dataset.captioning && !dataset.classification && !dataset.retrieval) {
    throw new ClapError(
      `${dataset.title} captioning is scored from generated captions: use evaluateCaptions (clap eval ${dataset.task} --predictions FILE)`,
    );
  }
  const templates = [...(options.templates ?? [dataset.template])];
  const { embeddings, skipped, shard: audioShard } = await embedItems(clap, dataset.items, options);
  const kept = dataset.items
    .map((it, i) => ({ it, e: embeddings[i] }))
    .filter((x): x is { it: EvalItem; e: Float32Array } => x.e !== undefined);
  if (kept.length === 0) throw new ClapError(`no ${dataset.title} clip could be embedded`);
  const metrics: Record<string, number> = {};
  const details: EvalDetails = {
    title: dataset.title,
    split: dataset.split,
    templates,
    classNames: dataset.classification?.classes ?? [],
    skipped,
    missing: dataset.missing,
    notes: [...dataset.notes],
  };
  let textShard: CacheShard | undefined;
  const cls = dataset.classification;
  if (cls) {
    const labelled = kept.filter((x) => x.it.labels.length > 0);
    if (labelled.length === 0) throw new ClapError(`no labelled ${dataset.title} clip to classify`);
    const text = await classTextEmbeddings(clap, cls.prompts, templates, options.cache);
    textShard = text.shard;
    const sim = clap.similarity(
      labelled.map((x) => x.e),
      text.embeddings,
    );
    const probs = zeroShotProbabilities(sim, cls.multiLabel);
    const k = cls.classes.length;
    const truthHot = oneHot(
      labelled.map((x) => x.it.labels),
      k,
    );
    const { mAP, perClass: ap } = meanAveragePrecision(truthHot, probs);
    const counts = cls.classes.map((_, c) => truthHot.filter((r) => r[c]).length);
    details.multiLabel = cls.multiLabel;
    details.predictions = labelled.map((x, i) => {
      const p = argmax(probs[i]);
      return { id: x.it.id, truth: x.it.labels.map((l) => cls.classes[l]), predicted: cls.classes[p], probability: probs[i][p] };
    });
    if (!cls.multiLabel) {
      const truth = labelled.map((x) => x.it.labels[0]);
      metrics.accuracy = accuracy(probs, truth);
      metrics.mAP = mAP;
      const confusion = confusionMatrix(probs, truth, k);
      details.confusion = confusion;
      details.perClass = cls.classes.map((name, c) => ({
        name,
        n: counts[c],
        accuracy: counts[c] ? confusion[c][c] / counts[c] : NaN,
        ap: ap[c],
      }));
    } else {
      const threshold = options.threshold ?? EVAL_DEFAULTS.threshold;
      const f1 = f1Dcase2017(truthHot, thresholdDecisions(probs, threshold));
      metrics.mAP = mAP;
      metrics.f1 = f1.f1;
      metrics.precision = f1.precision;
      metrics.recall = f1.recall;
      details.threshold = threshold;
      details.perClass = cls.classes.map((name, c) => ({ name, n: counts[c], ap: ap[c], f1: f1.perClass[c] }));
    }
  }
  if (dataset.retrieval) {
    const captioned = kept.filter((x) => (x.it.captions?.length ?? 0) > 0);
    if (captioned.length === 0) throw new ClapError(`no captioned ${dataset.title} clip for retrieval`);
    let texts: string[];
    let relevant: number[][];
    if (dataset.mergeIdenticalCaptions) {
      const byText = new Map<string, number[]>();
      captioned.forEach((x, a) => {
        for (const c of new Set(x.it.captions)) {
          if (!byText.has(c)) byText.set(c, []);
          byText.get(c)!.push(a);
        }
      });
      texts = [...byText.keys()];
      relevant = [...byText.values()];
    } else {
      texts = captioned.flatMap((x) => x.it.captions!);
      relevant = captioned.flatMap((x, a) => x.it.captions!.map(() => [a]));
    }
    const text = await embedTexts(clap, texts, options.cache);
    textShard ??= text.shard;
    const sim = clap.similarity(
      captioned.map((x) => x.e),
      text.embeddings,
    );
    const r = bidirectionalRetrieval(sim, relevant);
    for (const [dir, m] of [
      ['a2t', r.audioToText],
      ['t2a', r.textToAudio],
    ] as const) {
      for (const key of ['R@1', 'R@5', 'R@10', 'mAP@10'] as const) metrics[`${dir}_${key}`] = m[key];
    }
    details.retrieval = { ...r, clips: captioned.length, texts: texts.length };
  }
  if (options.cache) {
    details.cache = {
      dir: options.cache.dir,
      audioHits: audioShard?.hits ?? 0,
      audioMisses: audioShard?.misses ?? 0,
      textHits: textShard?.hits ?? 0,
      textMisses: textShard?.misses ?? 0,
    };
  }
  return { task: dataset.task, n: kept.length, classes: cls?.classes.length ?? 0, metrics, details };
}

/**
 * Scores generated captions against a captioning dataset's references: CIDEr-D, and SPIDEr when a
 * (corpus) SPICE score computed elsewhere is supplied. `predictions` maps a clip's id, file name or
 * path to its caption.
 */
export function evaluateCaptions(dataset: EvalDataset, predictions: ReadonlyMap<string, string>, spice?: number): EvalResult {
  const pairs: { item: EvalItem; caption: string }[] = [];
  let unmatched = 0;
  for (const item of dataset.items) {
    if (!item.captions?.length) continue;
    const caption = predictions.get(item.id) ?? predictions.get(basename(item.path)) ?? predictions.get(item.path);
    if (caption === undefined) unmatched++;
    else pairs.push({ item, caption });
  }
  if (pairs.length === 0)
    throw new ClapError(`no prediction matches a ${dataset.title} clip (match by file name, e.g. '${dataset.items[0]?.id}')`);
  const { score } = ciderD(
    pairs.map((p) => p.caption),
    pairs.map((p) => p.item.captions!),
  );
  const metrics: Record<string, number> = { cider_d: score };
  const s = spider(score, spice);
  if (s !== undefined) {
    metrics.spice = spice!;
    metrics.spider = s;
  }
  const notes = [...dataset.notes];
  if (unmatched)
    notes.push(
      `${plural(unmatched, 'clip')} ${unmatched === 1 ? 'has' : 'have'} no generated caption and ${unmatched === 1 ? 'is' : 'are'} left out`,
    );
  if (spice === undefined) notes.push('SPIDEr needs a SPICE score (Java + Stanford CoreNLP): pass one to report it');
  return {
    task: dataset.task,
    n: pairs.length,
    classes: 0,
    metrics,
    details: { title: dataset.title, split: dataset.split, templates: [], classNames: [], skipped: [], missing: dataset.missing, notes },
  };
}
