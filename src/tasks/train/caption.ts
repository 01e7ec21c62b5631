/**
 * `clap train caption`: trains the clapcap TransformerMapper (and optionally GPT-2) with the captioning
 * loss (paper Eq. 5: next-token cross-entropy of the caption given the mapped audio prefix), the CLAP audio
 * encoder frozen. Audio embeddings are computed ONCE (first 7 s of each clip) with the clapcap's own audio
 * encoder, or another CLAP's (`clap`), and reused every epoch. One ONNX train-step graph (src/engine/train.ts):
 *
 *   prefix = mapper(l2norm(audio_embed))            [B, P, n]  (normalize_prefix, as msclap 2023)
 *   h      = GPT-2([prefix ; wte(tokens)] + wpe)    causal, [B, P + L, n]
 *   loss   = −Σ w·log softmax(h[:, P−1 : P+L−1] · wteᵀ)[token]   (w = 1 / #real tokens, 0 on padding)
 *
 * Tokens are the caption's GPT-2 tokens followed by msclap's stop token (220), so decoding learns to stop.
 * The graph uses no `concatSymbolic` (no cache: the whole sequence at once), so every op has a VJP.
 *
 * OUT: clapcap.pth (the base clapcap checkpoint with the trained mapper / GPT-2 written back and the audio
 * encoder the embeddings came from as its `clap.*`, official key names; `gpt.lm_head.weight` stays tied
 * to `gpt.transformer.wte.weight`), clapcap.safetensors, config.json (the audio encoder's sizes and the
 * `clapcap` settings: `clap caption --weights OUT/clapcap.pth` needs nothing else), and the shared loop's
 * files (loop.ts: log.jsonl, checkpoints, summary.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import { buildTrainStep, Graph, type HostTensor, isFloatDtype, ops, type Value } from '../../engine/index.js';
import { type ClapConfig, clapConfigToJson, l2Normalize, resolveClapConfig } from '../../models/clap/index.js';
import {
  CLAPCAP_GPT_PREFIX,
  CLAPCAP_STOP_TOKEN,
  type ClapCapConfig,
  clapCapConfig,
  type ClapCapSettings,
  MAPPER_PREFIX,
  mapperParams,
  transformerMapper,
} from '../../models/clapcap/index.js';
import { gpt2AddPositions, gpt2LmHead, gpt2Params, gpt2TokenEmbeddings, gpt2Transformer } from '../../models/gpt2/index.js';
import type { StateDict } from '../../weights/index.js';
import { defaultTokenizer } from '../../text/index.js';
import { loadWeights } from '../../weights/index.js';
import { Clap, withSubject } from '../clap.js';
import { resolveConfigArg } from '../config-arg.js';
import { readManifest } from './manifest.js';
import { exportStateDict } from './model.js';
import { embedItems, FeatureStore } from './features.js';
import type { RunOptions } from './run-options.js';
import { parameterCount, saveWeights } from './outputs.js';
import { constantLr, openRun, type RunStatus, runLoop, skipped } from './loop.js';
import { CAPTION_TRAIN_DEFAULTS } from './defaults.js';

export interface CaptionTrainOptions extends RunOptions {
  data: string;
  /**
   * CLAP weights whose (frozen) audio encoder makes the embeddings the mapper learns from, and their config
   * (preset or config.json; default beside the weights). Written into the output as its audio encoder
   * (`clap.*`), so captioning embeds audio as training did. Default: the `init` checkpoint's own encoder.
   */
  clap?: string;
  clapConfig?: string;
  /** clapcap checkpoint to start from (GPT-2 + mapper, official layout), or already loaded. */
  init: string | StateDict;
  /**
   * msclap's `clapcap` settings (e.g. `gpt2.n_head` for a non-12-head GPT-2). Default: the `clapcap`
   * section of the config.json beside `init`. Written to OUT/config.json.
   */
  settings?: ClapCapSettings;
  out: string;
  /** Also train GPT-2 (default: only the mapper). */
  trainGpt2?: boolean;
  /** Caption tokens per example, stop token included (longer captions are cut; default 30). */
  maxTokens?: number;
}

export interface CaptionTrainSummary {
  steps: number;
  epochs_completed: number;
  clips: number;
  examples: number;
  params_trainable: number;
  first_loss: number | null;
  last_loss: number | null;
  /** Mean loss of the first and the last epoch. */
  first_epoch_loss: number | null;
  last_epoch_loss: number | null;
  weights: string;
  seconds: number;
  status: RunStatus;
}

export interface CaptionGraph {
  graph: Graph;
  loss: Value;
  mapperParamNames: string[];
  gptParamNames: string[];
}

/**
 * Inputs: `audio_embed` [B, d_proj] float32, `input_ids` [B, L] int64 (0-padded), `target_index` [B·L]
 * int64 (flat index (b·L + j)·V + token of the token predicted at row j), `target_weight` [B·L] float32.
 */
export function buildCaptionGraph(sd: StateDict, cfg: ClapCapConfig, batch: number, len: number): CaptionGraph {
  const g = new Graph('clapcap_train');
  const P = cfg.prefixLength;
  if (P + len > cfg.gpt.nPositions) throw new ClapError(`prefix ${P} + ${len} tokens exceed GPT-2's ${cfg.gpt.nPositions} positions`);
  const audio = g.input('audio_embed', 'float32', [batch, cfg.prefixDim]);
  const ids = g.input('input_ids', 'int64', [batch, len]);
  const targetIndex = g.input('target_index', 'int64', [batch * len]);
  const targetWeight = g.input('target_weight', 'float32', [batch * len]);
  const before = new Set(g.params.keys());
  const mp = mapperParams(g, sd, cfg.mapper, MAPPER_PREFIX);
  const mapperNames = [...g.params.keys()].filter((k) => !before.has(k));
  const gpt = gpt2Params(g, sd, CLAPCAP_GPT_PREFIX, cfg.gpt);
  const gptNames = [...g.params.keys()].filter((k) => !before.has(k) && !mapperNames.includes(k));
  const prefix = transformerMapper(mp, cfg.normalizePrefix ? l2Normalize(audio) : audio).prefix; // [B, P, n]
  const pos = g.constant(
    { dtype: 'int64', shape: [P + len], data: BigInt64Array.from({ length: P + len }, (_, i) => BigInt(i)) },
    'positions',
  );
  const embeds = gpt2AddPositions(gpt, ops.concat([prefix, gpt2TokenEmbeddings(gpt, ids)], 1), pos);
  const { hidden } = gpt2Transformer(gpt, embeds, { positionIds: pos });
  const rows = ops.slice(hidden, 1, P - 1, P - 1 + len); // row j predicts token j
  const logp = ops.logSoftmax(gpt2LmHead(gpt, rows), -1); // [B, L, V]
  const picked = ops.gather(ops.reshape(logp, [-1]), targetIndex, 0); // [B·L]
  const loss = ops.neg(ops.reduceSum(ops.mul(picked, targetWeight), [0]));
  return { graph: g, loss, mapperParamNames: mapperNames, gptParamNames: gptNames };
}

/** Caption → tokens + stop token, cut to `max`. */
export function captionTokens(text: string, max: number): number[] {
  const t = [
    ...defaultTokenizer()
      .encode(text)
      .slice(0, max - 1),
    CLAPCAP_STOP_TOKEN,
  ];
  return t;
}

/** The frozen audio encoder: its weights and config, and the module prefix to copy it from when it is not the clapcap's own. */
interface AudioEncoder {
  weights: StateDict;
  config?: ClapConfig;
  copyFrom?: string;
}

async function audioEncoder(o: CaptionTrainOptions, init: StateDict): Promise<AudioEncoder> {
  if (o.clap === undefined) {
    if (!init.has(`${CLAPCAP_AUDIO_PREFIX}base.htsat.patch_embed.proj.weight`))
      throw new ClapError('has no audio encoder (clap.*): give the CLAP whose audio embeddings the mapper learns from (--clap)', {
        subject: typeof o.init === 'string' ? o.init : 'init',
      });
    return { weights: init, config: resolveConfigArg(undefined, o.init) };
  }
  const clap = o.clap;
  const sd = await loadWeights(clap);
  const config = withSubject(() => resolveClapConfig(sd, resolveConfigArg(o.clapConfig, clap)), clap);
  return { weights: sd, config, copyFrom: config.audioPrefix };
}

/** The trained clapcap with `audio`'s encoder as its own (`clap.*`), so captioning embeds audio as training did. */
function withAudioEncoder(sd: Map<string, HostTensor>, audio: AudioEncoder): Map<string, HostTensor> {
  const from = audio.copyFrom;
  if (from === undefined) return sd;
  for (const k of [...sd.keys()]) if (k.startsWith(CLAPCAP_AUDIO_PREFIX)) sd.delete(k);
  for (const [k, t] of audio.weights) if (k.startsWith(from)) sd.set(CLAPCAP_AUDIO_PREFIX + k.slice(from.length), t);
  return sd;
}

const CLAPCAP_AUDIO_PREFIX = 'clap.';

export async function trainCaption(o: CaptionTrainOptions): Promise<CaptionTrainSummary> {
  const run = openRun(o.out, o);
  const batch = o.batch ?? CAPTION_TRAIN_DEFAULTS.batch;
  const len = o.maxTokens ?? CAPTION_TRAIN_DEFAULTS.maxTokens;
  let items = readManifest(o.data);
  const initFile = typeof o.init === 'string' ? o.init : undefined;
  const base = typeof o.init === 'string' ? await loadWeights(o.init) : o.init;
  const settings = o.settings ?? ((resolveConfigArg(undefined, o.init)?.clapcap ?? {}) as ClapCapSettings);
  const cfg = withSubject(() => clapCapConfig(base, settings), initFile);

  // ---- the frozen audio encoder (--clap's, else the clapcap's own) and its embeddings, once
  const audio = await audioEncoder(o, base);
  const clap = await Clap.load({ weights: audio.weights, config: audio.config, threads: o.threads });
  const skip = skipped(o);
  const store = new FeatureStore({
    frontend: clap.config.frontend,
    maxClipSeconds: o.maxClipSeconds ?? CAPTION_TRAIN_DEFAULTS.maxClipSeconds,
    cacheDir: o.cacheDir,
    workers: o.workers,
  });
  let emb: Float32Array[];
  try {
    store.prefetch(items.map((it) => it.path));
    items = await store.readable(items, skip.onSkip);
    emb = await embedItems(clap, items, store);
  } finally {
    await clap.release();
    await store.close();
  }
  if (emb[0].length !== cfg.prefixDim)
    throw new ClapError(`the CLAP's audio embeddings have ${emb[0].length} values but the mapper takes ${cfg.prefixDim}`, {
      subject: o.clap ?? initFile ?? 'init',
    });
  writeFileSync(join(o.out, 'config.json'), `${JSON.stringify({ ...clapConfigToJson(clap.config), clapcap: settings }, null, 2)}\n`);
  // one example per (clip, caption)
  const examples = items.flatMap((it, i) => it.captions.map((c) => ({ clip: i, tokens: captionTokens(c, len) })));
  if (examples.length < batch)
    throw new ClapError(`${examples.length} (clip, caption) pairs is fewer than one batch of ${batch}`, { subject: o.data });

  const cg = buildCaptionGraph(base, cfg, batch, len);
  const names = new Set([...cg.mapperParamNames, ...(o.trainGpt2 ? cg.gptParamNames : [])]);
  const trainable = [...cg.graph.params.values()].map((p) => p.value).filter((v) => names.has(v.name) && isFloatDtype(v.dtype));
  const step = await buildTrainStep(cg.loss, {
    optimizer: { kind: 'adam' },
    params: trainable,
    lr: o.lr ?? CAPTION_TRAIN_DEFAULTS.lr,
    clipGradNorm: o.clipGrad,
    runtime: { threads: o.threads },
  });
  const nTrainable = parameterCount(trainable);
  const V = cfg.gpt.vocabSize;
  const feeds = (idx: readonly number[]): Record<string, HostTensor> => {
    const audio = new Float32Array(batch * cfg.prefixDim);
    const ids = new BigInt64Array(batch * len);
    const ti = new BigInt64Array(batch * len);
    const tw = new Float32Array(batch * len);
    let count = 0;
    idx.forEach((e, b) => {
      const ex = examples[e];
      audio.set(emb[ex.clip], b * cfg.prefixDim);
      ex.tokens.forEach((tok, j) => {
        ids[b * len + j] = BigInt(tok);
        ti[b * len + j] = BigInt((b * len + j) * V + tok);
        tw[b * len + j] = 1;
        count++;
      });
    });
    for (let k = 0; k < tw.length; k++) tw[k] /= count;
    return {
      audio_embed: { dtype: 'float32', shape: [batch, cfg.prefixDim], data: audio },
      input_ids: { dtype: 'int64', shape: [batch, len], data: ids },
      target_index: { dtype: 'int64', shape: [batch * len], data: ti },
      target_weight: { dtype: 'float32', shape: [batch * len], data: tw },
    };
  };

  try {
    return await runLoop(
      run,
      {
        stepper: step,
        examples: examples.length,
        batch,
        feeds,
        startFields: { clips: items.length, examples: examples.length, params_trainable: nTrainable, skipped: skip.list },
        save: () => {
          const sd = exportStateDict(base, step.params());
          // GPT2LMHeadModel ties lm_head to wte: keep them one tensor
          const wte = sd.get(`${CLAPCAP_GPT_PREFIX}wte.weight`);
          if (wte && sd.has('gpt.lm_head.weight')) sd.set('gpt.lm_head.weight', wte);
          return saveWeights(o.out, 'clapcap', withAudioEncoder(sd, audio));
        },
        summary: (r): CaptionTrainSummary => ({
          steps: r.steps,
          epochs_completed: r.epochs_completed,
          clips: items.length,
          examples: examples.length,
          params_trainable: nTrainable,
          first_loss: r.first_loss,
          last_loss: r.last_loss,
          first_epoch_loss: r.epochs[0]?.train_loss ?? null,
          last_epoch_loss: r.epochs.at(-1)?.train_loss ?? null,
          weights: r.weights,
          seconds: r.seconds,
          status: r.status,
        }),
      },
      {
        ...o,
        epochs: o.epochs ?? CAPTION_TRAIN_DEFAULTS.epochs,
        seed: o.seed ?? CAPTION_TRAIN_DEFAULTS.seed,
        schedule: constantLr(o.lr ?? CAPTION_TRAIN_DEFAULTS.lr),
      },
    );
  } finally {
    await step.release();
  }
}
