/**
 * Audio captioning, its own model kind as in msclap (`CLAPWrapper(version='clapcap')`) and transformers.js:
 * `ClapCap.load({ weights: 'clapcap_weights_2023.pth' })`, then `caption(files)`. A clapcap file holds its
 * own CLAP audio encoder (`clap.*`), the TransformerMapper and GPT-2; captions are msclap's generate_caption
 * (beam search, KV-cached: tasks/caption/).
 */
import { ClapError } from '../errors.js';
import type { RuntimeOptions } from '../engine/index.js';
import { PRECISIONS, type Precision } from '../engine/quant.js';
import type { AudioInput } from '../audio/index.js';
import { buildAudioEncoderGraph, type ClapConfig, resolveClapConfig } from '../models/clap/index.js';
import { clapCapConfig, type ClapCapSettings } from '../models/clapcap/index.js';
import type { StateDict } from '../weights/index.js';
import { type AudioEmbedding, type AudioEmbedOptions, AudioTower, audioInputSpec, type InputError, isInputError } from './audio-tower.js';
import { type CaptionBeam, ClapCapDecoder, type CaptionOptions } from './caption/index.js';
import { ClapCapModel } from './caption/model.js';
import { withSubject } from './clap.js';
import { resolveConfigArg } from './config-arg.js';
import { ModelCache } from './model-cache.js';
import { compileTower, int8WeightsFor, type TowerContext, withThreads } from './towers.js';
import { AUDIO_TUNING, towerTuning } from './calibration.js';
import { WeightsSource } from './weights-source.js';

export interface ClapCapLoadOptions extends RuntimeOptions {
  /** Path of a clapcap .pth (as released: clapcap_weights_2023.pth) or .safetensors file, or a loaded state dict. */
  weights: string | StateDict;
  /**
   * A preset name, a config.json path or a config object: its audio encoder's sizes and its `clapcap`
   * section (msclap's config_clapcap.yml settings). Default: a config.json beside the weights, else the
   * weights' shapes and the official 2023 settings.
   */
  config?: string | ClapConfig;
  /**
   * Precision of the audio encoder and GPT-2 (see ClapLoadOptions.precision; the mapper stays fp32): 'int8'
   * about halves the CPU of a caption (GPT-2's weights are streamed every step) and may pick other tokens;
   * 'fp32' (default) reproduces msclap.
   */
  precision?: Precision;
}

export interface Caption {
  input: string;
  /** The best beam, as msclap's generate_caption returns it (capitalised like Python's str.capitalize). */
  caption: string;
  /** Its token ids (up to and including the stop token). */
  tokens: number[];
  /** Every beam, best first, with its score (mean log-probability per token). */
  beams?: CaptionBeam[];
  /** In sliding mode: each window captioned on its own, with its times (seconds); `caption` is of their mean. */
  windows?: CaptionWindow[];
}

export interface CaptionWindow {
  start: number;
  end: number;
  caption: string;
  tokens: number[];
}

export type CaptionCallOptions = CaptionOptions & AudioEmbedOptions;

export class ClapCap {
  private constructor(
    readonly config: ClapConfig,
    private readonly audio: AudioTower,
    private readonly decoder: ClapCapDecoder,
  ) {}

  static async load(options: ClapCapLoadOptions): Promise<ClapCap> {
    const { weights, config, precision, ...runtime } = options;
    if (precision !== undefined && !PRECISIONS.includes(precision)) {
      throw new ClapError(`precision must be one of ${PRECISIONS.join(', ')}, got '${String(precision)}'`);
    }
    const explicit = resolveConfigArg(config, weights);
    const source = WeightsSource.of(weights);
    const cache = new ModelCache(runtime);
    const ctx: TowerContext = {
      weights: source,
      cache,
      modelKey: cache.modelKey(source, explicit),
      precision: precision ?? 'fp32',
      int8Weights: await int8WeightsFor(precision ?? 'fp32'),
      runtime,
    };
    // The decoder's config and its wte rows come from the weights: a clapcap model always reads them.
    const sd = await source.tensors();
    const resolved = withSubject(() => resolveClapConfig(sd, explicit), source.path);
    if (resolved.audioPrefix !== 'clap.')
      throw new ClapError(
        'captioning needs clapcap weights (e.g. clapcap_weights_2023.pth), not CLAP weights',
        source.path ? { subject: source.path } : {},
      );
    const capConfig = withSubject(() => clapCapConfig(sd, (resolved.clapcap ?? {}) as ClapCapSettings), source.path);
    const audio = new AudioTower(
      (threads) => compileTower(withThreads(ctx, threads), 'clap_audio_encoder', (w) => buildAudioEncoderGraph(w, resolved)),
      audioInputSpec(resolved),
      resolved.dProj,
      towerTuning(ctx, 'clap_audio_encoder', AUDIO_TUNING),
    );
    const decoder = new ClapCapDecoder(await ClapCapModel.compile(ctx, capConfig));
    return new ClapCap(resolved, audio, decoder);
  }

  /**
   * Captions (msclap's generate_caption: beam search over the clapcap GPT-2 decoder, KV-cached), in input
   * order. An input that cannot be read or decoded rejects the call, or with `errors: 'return'` is
   * `{ input, error }` in place.
   */
  caption(inputs: readonly AudioInput[], options: CaptionCallOptions & { errors: 'return' }): Promise<(Caption | InputError)[]>;
  caption(inputs: readonly AudioInput[], options?: CaptionCallOptions & { errors?: 'throw' }): Promise<Caption[]>;
  caption(inputs: readonly AudioInput[], options?: CaptionCallOptions): Promise<(Caption | InputError)[]>;
  async caption(inputs: readonly AudioInput[], options: CaptionCallOptions = {}): Promise<(Caption | InputError)[]> {
    const audio = await this.audio.embed(inputs, options);
    const embedded = audio.filter((a): a is AudioEmbedding => !isInputError(a));
    // Files first, then every window: a file's caption (and its sampling stream) is the same with or without windows.
    const windows = embedded.flatMap((a) => a.windows ?? []);
    const results = await this.decoder.caption([...embedded.map((a) => a.embedding), ...windows.map((w) => w.embedding)], options);
    let k = 0;
    let w = embedded.length;
    return audio.map((a) => {
      if (isInputError(a)) return a;
      const r = results[k++];
      const own = a.windows?.map((win) => ({ start: win.start, end: win.end, caption: results[w].caption, tokens: results[w++].tokens }));
      return {
        input: a.input,
        caption: r.caption,
        tokens: r.tokens,
        ...(r.beams ? { beams: r.beams } : {}),
        ...(own ? { windows: own } : {}),
      };
    });
  }

  async release(): Promise<void> {
    await this.audio.release();
    await this.decoder.release();
  }
}
