/**
 * The model a training run starts from and the weights it writes, each in its family's own format, so every
 * output loads in every command as it is:
 *
 * - msclap layout (2023, 2022, the paper's encoder grid): RUN/config.json (our layout), RUN/init.safetensors,
 *   RUN/tokenizer/ (a copy of the BERT/RoBERTa tokenizer's files: found beside the weights), and
 *   RUN/<stem>.pth + .safetensors (official key layout, as msclap releases them);
 * - Hugging Face CLAP: model folders — RUN/init/ and RUN/<stem>/ — with the source folder's config.json, the
 *   feature extractor's preprocessor_config.json, the tokenizer's files and model.safetensors.
 *
 * A resumed run reads its model back from the run folder.
 */
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ClapError } from '../../errors.js';
import { clapFeatureExtractorConfigToJson } from '../../audio/index.js';
import { type ClapConfig, clapConfigToJson, resolveClapConfig } from '../../models/clap/index.js';
import { tokenizerFiles } from '../../text/index.js';
import { loadWeights, saveSafetensors, type StateDict, type StateDictLike } from '../../weights/index.js';
import { withSubject } from '../clap.js';
import { resolveConfigArg } from '../config-arg.js';
import { resolveModelFiles } from '../model-files.js';
import { saveWeights } from './outputs.js';
import { makeDirs } from '../../files.js';

export interface RunModel {
  cfg: ClapConfig;
  /** The tokenizer's files (a folder or a file), for BERT and RoBERTa text encoders. */
  tokenizer?: string;
  /** Hugging Face: the model folder whose config.json the run's folders take. */
  hfFolder?: string;
}

/** Where a run's model comes from: `init` weights (any family), or a `config` (from scratch), and a `tokenizer`. */
export interface RunModelOptions {
  init?: string;
  config?: string;
  tokenizer?: string;
}

/** The starting model of a fresh run: `--init`'s weights and what they came with, or (no weights yet) a config. */
export async function startingModel(o: RunModelOptions, defaultConfig: string): Promise<RunModel & { weights?: StateDict }> {
  if (!o.init) {
    const cfg = resolveConfigArg(o.config ?? defaultConfig)!;
    if (cfg.layout === 'hf') {
      throw new ClapError(
        "training from scratch in Hugging Face's layout is not supported: start from a model folder (--init DIR), or train a msclap-layout config",
        { subject: o.config },
      );
    }
    return { cfg, tokenizer: o.tokenizer };
  }
  const files = resolveModelFiles(o.init, { config: o.config, tokenizer: o.tokenizer });
  const path = files.weights as string;
  const weights = await loadWeights(path);
  const cfg = withSubject(() => resolveClapConfig(weights, files.config), path);
  return { cfg, weights, tokenizer: files.tokenizer, ...(cfg.layout === 'hf' ? { hfFolder: dirname(path) } : {}) };
}

/** The model a run folder holds (written by `writeRunStart`): for `--resume`. */
export async function resumedModel(out: string): Promise<RunModel & { weights: StateDict }> {
  const hf = join(out, 'init');
  if (existsSync(join(hf, 'config.json'))) {
    const m = await startingModel({ init: hf }, '');
    return { ...m, weights: m.weights! };
  }
  const cfg = resolveConfigArg(join(out, 'config.json'))!;
  const tokenizer = join(out, 'tokenizer');
  return { cfg, weights: await loadWeights(join(out, 'init.safetensors')), ...(existsSync(tokenizer) ? { tokenizer } : {}) };
}

/** Writes the starting model into the run folder (`resumedModel` reads it back); returns the model as the run folder holds it. */
export async function writeRunStart(out: string, m: RunModel, weights: StateDictLike): Promise<RunModel> {
  if (m.cfg.layout === 'hf') {
    const dir = await writeHfFolder(join(out, 'init'), m, weights);
    return { ...m, hfFolder: dir, tokenizer: dir };
  }
  await saveSafetensors(join(out, 'init.safetensors'), weights);
  return writeModelFiles(out, m);
}

/**
 * What loads msclap-layout weights written into `out` besides them: config.json and the tokenizer's files
 * (tokenizer/); returns the model as the run folder holds it. (A Hugging Face model folder holds its own.)
 */
export function writeModelFiles(out: string, m: RunModel): RunModel {
  if (m.cfg.layout === 'hf') return m;
  writeFileSync(join(out, 'config.json'), `${JSON.stringify(clapConfigToJson(m.cfg), null, 2)}\n`);
  if (m.tokenizer === undefined) return m;
  const dir = join(out, 'tokenizer');
  copyInto(dir, tokenizerFiles(m.tokenizer));
  return { ...m, tokenizer: dir };
}

/**
 * Trained weights in the family's format beside what loads them (`--weights` takes the returned path with no
 * other flag): msclap: RUN/<stem>.pth + .safetensors (config.json and tokenizer/ are the run's); Hugging Face:
 * the model folder RUN/<stem>/.
 */
export async function saveRunModel(out: string, stem: string, m: RunModel, weights: StateDictLike): Promise<string> {
  return m.cfg.layout === 'hf' ? writeHfFolder(join(out, stem), m, weights) : saveWeights(out, stem, weights);
}

/** A Hugging Face model folder: the source's config.json, preprocessor_config.json, the tokenizer's files, model.safetensors. */
async function writeHfFolder(dir: string, m: RunModel, weights: StateDictLike): Promise<string> {
  if (!m.hfFolder || m.cfg.frontend.type !== 'hf') throw new ClapError('internal: a Hugging Face model without its folder');
  makeDirs(dir, '--out');
  copyInto(dir, [join(m.hfFolder, 'config.json'), ...(m.tokenizer ? tokenizerFiles(m.tokenizer) : [])]);
  const extractor = clapFeatureExtractorConfigToJson(m.cfg.frontend.extractor);
  writeFileSync(join(dir, 'preprocessor_config.json'), `${JSON.stringify(extractor, null, 2)}\n`);
  // transformers reads model.safetensors only with this metadata.
  await saveSafetensors(join(dir, 'model.safetensors'), weights, { format: 'pt' });
  return dir;
}

function copyInto(dir: string, files: readonly string[]): void {
  makeDirs(dir, '--out');
  for (const f of files) if (dirname(f) !== dir) copyFileSync(f, join(dir, basename(f)));
}
