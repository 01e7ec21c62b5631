/**
 * What a user's `--weights` points at, resolved into the files a model loads from:
 *
 * - a Hugging Face model folder (config.json with `model_type: "clap"`, model.safetensors or
 *   pytorch_model.bin, preprocessor_config.json, the tokenizer files), or one of its weight files;
 * - an msclap checkpoint (.pth as released, or .safetensors) with `--config` (a preset or config.json) or a
 *   config.json beside it, and — for BERT/RoBERTa text encoders — the tokenizer from `--tokenizer` or found
 *   beside it (vocab.txt, tokenizer.json, vocab.json + merges.txt, or a bert-base-uncased/ or roberta-base/
 *   folder);
 * - a state dict already in memory.
 *
 * The family itself is read off the weights (models/clap/config.ts resolveClapConfig); `family` picks the
 * preset whose unstored settings (frontend, head counts) apply when no config says otherwise.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ClapError } from '../errors.js';
import { clapFeatureExtractorConfigFromJson } from '../audio/index.js';
import { readJson } from '../files.js';
import { CLAP_2022, CLAP_2023, type ClapConfig, clapConfigFromJson, type ClapFamily, LAION_CLAP_UNFUSED } from '../models/clap/index.js';
import type { StateDict } from '../weights/index.js';
import { resolveConfigArg } from './config-arg.js';

export interface ModelFiles {
  /** The weights file, or the state dict given. */
  weights: string | StateDict;
  /** The config the weights are resolved against (undefined: sizes and family from the weights alone). */
  config?: ClapConfig;
  /** Where the text encoder's tokenizer files are (a folder or a file), when known. */
  tokenizer?: string;
  /** What was found, for messages ("Hugging Face model folder …/clap-htsat-unfused"). */
  found: string;
}

export interface ModelFilesOptions {
  config?: string | ClapConfig;
  tokenizer?: string;
  family?: ClapFamily;
}

const HF_WEIGHTS = ['model.safetensors', 'pytorch_model.bin'];

/** The files behind `weights` (see the module comment). */
export function resolveModelFiles(weights: string | StateDict, options: ModelFilesOptions = {}): ModelFiles {
  const family = options.family;
  if (typeof weights !== 'string') {
    return {
      weights,
      config: resolveConfigArg(options.config, weights) ?? familyPreset(family),
      tokenizer: options.tokenizer,
      found: 'weights in memory',
    };
  }
  let isDir = false;
  try {
    isDir = statSync(weights).isDirectory();
  } catch {
    throw new ClapError('weights not found', { subject: weights });
  }
  const folder = isDir ? weights : dirname(weights);
  const hfConfig = join(folder, 'config.json');
  const isHf = existsSync(hfConfig) && (readJson(hfConfig, 'model config') as { model_type?: unknown }).model_type === 'clap';
  if (isDir && !isHf) {
    throw new ClapError(
      'is a folder but not a Hugging Face CLAP model folder (no config.json with "model_type": "clap"); give the weights file',
      {
        subject: weights,
      },
    );
  }
  if (isHf && (isDir || HF_WEIGHTS.includes(basename(weights)))) {
    const file = isDir ? HF_WEIGHTS.map((f) => join(folder, f)).find((f) => existsSync(f)) : weights;
    if (!file)
      throw new ClapError(`no weights in this Hugging Face model folder (expected ${HF_WEIGHTS.join(' or ')})`, { subject: folder });
    if (family !== undefined && family !== 'hf-clap')
      throw new ClapError(`holds a Hugging Face CLAP model, not ${family}`, { subject: weights });
    const pre = join(folder, 'preprocessor_config.json');
    const extractor = existsSync(pre)
      ? clapFeatureExtractorConfigFromJson(readJson(pre, 'preprocessor config') as Record<string, unknown>, pre)
      : undefined;
    let config = options.config !== undefined ? resolveConfigArg(options.config, file) : undefined;
    config ??= withFile(
      () => clapConfigFromJson(readJson(hfConfig, 'model config') as Record<string, unknown>, CLAP_2023, extractor),
      hfConfig,
    );
    return { weights: file, config, tokenizer: options.tokenizer ?? folder, found: `Hugging Face model folder ${folder}` };
  }
  const config = resolveConfigArg(options.config, weights) ?? familyPreset(family);
  return { weights, config, tokenizer: options.tokenizer ?? tokenizerBeside(folder), found: weights };
}

/** The preset a `--family` stands for when nothing else configures the model. */
function familyPreset(family: ClapFamily | undefined): ClapConfig | undefined {
  return family === 'msclap-2022'
    ? CLAP_2022
    : family === 'hf-clap'
      ? LAION_CLAP_UNFUSED
      : family === 'msclap-2023'
        ? CLAP_2023
        : undefined;
}

/** Tokenizer files next to an msclap checkpoint: a folder named after the tokenizer, or its files directly. */
function tokenizerBeside(folder: string): string | undefined {
  for (const name of ['bert-base-uncased', 'roberta-base', 'tokenizer']) {
    const dir = join(folder, name);
    if (existsSync(dir)) return dir;
  }
  return ['vocab.txt', 'tokenizer.json', 'vocab.json'].some((f) => existsSync(join(folder, f))) ? folder : undefined;
}

function withFile<T>(fn: () => T, file: string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ClapError && e.subject === undefined) throw new ClapError(e.message, { subject: file, cause: e });
    throw e;
  }
}
