/**
 * Random weights written as the official files are laid out, so that every command loads them with no extra
 * flags: msclap's `.pth` (CLAP 2023, clapcap 2023, CLAP 2022 with a tokenizer folder beside it) and LAION's
 * Hugging Face model folders. Full size has the official shapes (for benchmarks and for trying the commands
 * at real speed); tiny has small widths that the loaders infer from the weights alone (for tests). The
 * numbers are noise: nothing here is a trained model.
 *
 * The BERT and RoBERTa tokenizers written beside them are minimal but valid (specials, characters, bytes):
 * the real vocabularies come with the official files.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { clapFeatureExtractorConfigToJson, LAION_FUSED_EXTRACTOR, LAION_UNFUSED_EXTRACTOR } from '../audio/index.js';
import type { HostTensor } from '../engine/index.js';
import { ClapError } from '../errors.js';
import { CLAP_2022, CLAP_2023, CLAP_PRESETS, type ClapConfig, hfClapConfig, randomClapStateDict } from '../models/clap/index.js';
import { BERT_BASE } from '../models/bert/index.js';
import { randomClapCapStateDict } from '../models/clapcap/index.js';
import { hfClapConfigFromJson } from '../models/hf-clap/index.js';
import { BYTE_LEVEL_CHARS } from '../text/index.js';
import { savePth, saveSafetensors } from '../weights/index.js';
import { makeDirs } from '../files.js';

/** What `clap random-weights` writes: the three msclap releases and LAION's two Hugging Face folders. */
export const RANDOM_MODELS = ['2023', 'clapcap', '2022', 'laion-unfused', 'laion-fused'] as const;
export type RandomModel = (typeof RANDOM_MODELS)[number];
export const RANDOM_SIZES = ['full', 'tiny'] as const;
export type RandomSize = (typeof RANDOM_SIZES)[number];

export const RANDOM_WEIGHTS_DEFAULTS = { size: 'full', seed: 1 } as const satisfies { size: RandomSize; seed: number };

export interface RandomWeightsOptions {
  model: RandomModel;
  size?: RandomSize;
  seed?: number;
}

/** A random model in memory: its tensors (in the release's key names) and the config they were drawn for. */
export interface RandomWeights {
  stateDict: Map<string, HostTensor>;
  config: ClapConfig;
}

// Tiny sizes: every width the loaders cannot read off a tensor shape follows the releases' conventions
// (64-wide text heads, clapcap's 12 GPT-2 heads and 8 mapper heads), so no config file is needed.
const TINY_HTSAT = CLAP_PRESETS.tiny.audio;
const TINY_GPT2 = { vocabSize: 50257, nPositions: 128, nEmbd: 64, nLayer: 1, nHead: 1, layerNormEpsilon: 1e-5 };
const TINY_2023: ClapConfig = { ...CLAP_2023, audio: TINY_HTSAT, text: { type: 'gpt2', gpt2: TINY_GPT2 }, dProj: 32 };
const TINY_BERT = { intermediateSize: 128, hiddenSize: 64, numHiddenLayers: 1, numAttentionHeads: 1 };
const TINY_2022: ClapConfig = {
  ...CLAP_2022,
  audio: { type: 'cnn14', cnn14: { channels: [4, 8, 8, 16, 16, 32], outEmb: 32, classesNum: 8, melBins: 64, bnEps: 1e-5 } },
  text: { type: 'bert', bert: { ...BERT_BASE, ...TINY_BERT }, positions: 'absolute', pooling: 'cls' },
  dProj: 32,
};
const TINY_CAPTIONER = { nEmbd: 24, nHead: 12, prefixLength: 4, clipLength: 4, numLayers: 1 };

/** A Hugging Face folder's config.json for LAION CLAP: transformers' defaults are clap-htsat-unfused's sizes. */
function laionConfigJson(fused: boolean, size: RandomSize): Record<string, unknown> {
  const tiny = {
    projection_dim: 32,
    audio_config: { patch_embeds_hidden_size: 16, hidden_size: 128, depths: [1, 1, 1, 1], num_attention_heads: [1, 1, 1, 1] },
    text_config: { hidden_size: 64, num_hidden_layers: 1, num_attention_heads: 1, intermediate_size: 128 },
  };
  const sized = size === 'tiny' ? tiny : { audio_config: {}, text_config: {} };
  return {
    architectures: ['ClapModel'],
    model_type: 'clap',
    ...sized,
    audio_config: { model_type: 'clap_audio_model', ...sized.audio_config, enable_fusion: fused },
    text_config: { model_type: 'clap_text_model', ...sized.text_config },
  };
}

/** The tensors of a random model of `model` at `size` (deterministic per seed). */
export function randomWeights({
  model,
  size = RANDOM_WEIGHTS_DEFAULTS.size,
  seed = RANDOM_WEIGHTS_DEFAULTS.seed,
}: RandomWeightsOptions): RandomWeights {
  const tiny = size === 'tiny';
  if (model === '2023' || model === '2022') {
    const config = model === '2023' ? (tiny ? TINY_2023 : CLAP_2023) : tiny ? TINY_2022 : CLAP_2022;
    return { stateDict: randomClapStateDict(config, seed), config };
  }
  if (model === 'clapcap') {
    // clapcap_weights_2023.pth: its own CLAP audio encoder and projection under clap.*, then the decoder.
    const config: ClapConfig = { ...(tiny ? TINY_2023 : CLAP_2023), text: null, audioPrefix: 'clap.' };
    const stateDict = randomClapStateDict(config, seed);
    stateDict.delete('logit_scale');
    const c = TINY_CAPTIONER;
    const decoder = tiny
      ? randomClapCapStateDict({ gpt: { ...TINY_GPT2, nEmbd: c.nEmbd, nHead: c.nHead }, prefixDim: config.dProj, ...c, seed })
      : randomClapCapStateDict({ seed });
    for (const [k, t] of decoder) stateDict.set(k, t);
    return { stateDict, config };
  }
  const fused = model === 'laion-fused';
  const config = hfClapConfig(hfClapConfigFromJson(laionConfigJson(fused, size)), fused ? LAION_FUSED_EXTRACTOR : LAION_UNFUSED_EXTRACTOR);
  return { stateDict: randomClapStateDict(config, seed), config };
}

export interface WrittenRandomWeights {
  /** What to give `--weights`: the .pth, or the Hugging Face folder. */
  weights: string;
  /** Every file written. */
  files: string[];
  tensors: number;
}

/**
 * Writes a random `model` to `out`: the .pth for msclap's models (2022's with a `tokenizer/` folder beside
 * it), a Hugging Face model folder for LAION's. Refuses to overwrite anything.
 */
export async function writeRandomWeights(out: string, options: RandomWeightsOptions): Promise<WrittenRandomWeights> {
  const { stateDict, config } = randomWeights(options);
  const vocabSize = config.text?.type === 'bert' ? config.text.bert.vocabSize : 0;
  const files: string[] = [];
  const written = (path: string): string => {
    files.push(path);
    return path;
  };
  const writeText = (path: string, text: string): void => writeFileSync(written(path), text);
  const model = options.model;
  if (model === 'laion-unfused' || model === 'laion-fused') {
    if (existsSync(out) && readdirSync(out).length > 0)
      throw new ClapError('is not an empty folder (nothing was written)', { subject: out });
    makeDirs(out);
    const extractor = model === 'laion-fused' ? LAION_FUSED_EXTRACTOR : LAION_UNFUSED_EXTRACTOR;
    writeText(join(out, 'config.json'), json(laionConfigJson(model === 'laion-fused', options.size ?? RANDOM_WEIGHTS_DEFAULTS.size)));
    writeText(join(out, 'preprocessor_config.json'), json(clapFeatureExtractorConfigToJson(extractor)));
    writeText(join(out, 'vocab.json'), json(robertaVocab(vocabSize)));
    writeText(join(out, 'merges.txt'), '#version: 0.2\n');
    await saveSafetensors(written(join(out, 'model.safetensors')), stateDict);
    return { weights: out, files, tensors: stateDict.size };
  }
  const tokenizer = model === '2022' ? join(dirname(out), 'tokenizer') : undefined;
  for (const path of [out, tokenizer]) {
    if (path !== undefined && existsSync(path)) throw new ClapError('already exists (nothing was written)', { subject: path });
  }
  makeDirs(dirname(out));
  if (tokenizer !== undefined) {
    makeDirs(tokenizer);
    writeText(join(tokenizer, 'vocab.txt'), `${bertVocab(vocabSize).join('\n')}\n`);
  }
  await savePth(written(out), stateDict);
  return { weights: out, files, tensors: stateDict.size };
}

const json = (v: unknown): string => `${JSON.stringify(v, null, 2)}\n`;

/** `size` tokens: `tokens`, then `[unusedN]` fillers (as BERT's vocabulary has) up to the text encoder's rows. */
function padded(tokens: string[], size: number, last: string[] = []): string[] {
  const fill = Array.from({ length: size - tokens.length - last.length }, (_, i) => `[unused${i}]`);
  return [...tokens, ...fill, ...last];
}

/** A WordPiece vocabulary: BERT's special tokens, printable ASCII without capitals, each again as a continuation. */
function bertVocab(size: number): string[] {
  const chars = Array.from({ length: 0x7f - 0x21 }, (_, i) => String.fromCharCode(0x21 + i)).filter((c) => c < 'A' || c > 'Z');
  return padded(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...chars, ...chars.map((c) => `##${c}`)], size);
}

/** A byte-level BPE vocabulary without merges: RoBERTa's special tokens (`<mask>` last, as in roberta-base) and the bytes. */
function robertaVocab(size: number): Record<string, number> {
  const tokens = padded(['<s>', '<pad>', '</s>', '<unk>', ...BYTE_LEVEL_CHARS], size, ['<mask>']);
  return Object.fromEntries(tokens.map((t, i) => [t, i]));
}
