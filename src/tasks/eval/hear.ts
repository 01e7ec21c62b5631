/**
 * The HEAR benchmark API (https://hearbenchmark.com/hear-api.html) over CLAP's audio tower:
 *
 *   const model = await loadHearModel({ weights: 'CLAP_weights_2023.pth' });
 *   const scene = await model.getSceneEmbeddings(sounds, 16000);          // Float32Array per sound
 *   const { embeddings, timestamps } = await model.getTimestampEmbeddings(sounds, 16000);
 *
 * - scene embedding: msclap's embedding of the whole sound — one 7 s window (clips up to 7 s are
 *   tiled, as msclap does), longer sounds the mean over 7 s windows (hop 7 s, the tail tiled);
 * - timestamp embeddings: one per `hopMs` (default 50 ms, HEAR's suggestion), each the embedding of the
 *   7 s window centred on the timestamp (zero outside the sound); timestamps in milliseconds.
 * Embeddings are the projected audio embeddings (not normalised), of size `config.dProj`.
 * Input may be at any sample rate (resampled to 44.1 kHz as msclap does); HEAR's own harness passes
 * audio at `sampleRate`.
 */
import { logMel, MODEL_SAMPLE_RATE, resample, WINDOW_SAMPLES } from '../../audio/index.js';
import { ClapError } from '../../errors.js';
import { Clap, type ClapLoadOptions } from '../clap.js';

export interface TimestampEmbeddings {
  /** [sound][timestamp] → embedding. */
  embeddings: Float32Array[][];
  /** [sound][timestamp] → centre of the window, milliseconds. */
  timestamps: number[][];
}

export interface HearOptions {
  /** Hop between timestamp embeddings, milliseconds (default 50). */
  hopMs?: number;
  /** Windows per encoder run (default 8). */
  batchSize?: number;
}

export class HearModel {
  /** HEAR: the rate the model expects (44.1 kHz); other rates are resampled. */
  readonly sampleRate = MODEL_SAMPLE_RATE;
  readonly sceneEmbeddingSize: number;
  readonly timestampEmbeddingSize: number;

  constructor(
    readonly clap: Clap,
    private readonly options: HearOptions = {},
  ) {
    this.sceneEmbeddingSize = clap.config.dProj;
    this.timestampEmbeddingSize = clap.config.dProj;
  }

  /** One embedding per sound. */
  async getSceneEmbeddings(audio: readonly Float32Array[], sampleRate: number = this.sampleRate): Promise<Float32Array[]> {
    checkAudio(audio, sampleRate);
    const out = await this.clap.embedAudio(
      audio.map((samples) => ({ samples, sampleRate })),
      { sliding: true, batchSize: this.options.batchSize },
    );
    return out.map((r) => r.embedding);
  }

  /** Embeddings every `hopMs` for each sound, with their timestamps (ms). */
  async getTimestampEmbeddings(
    audio: readonly Float32Array[],
    sampleRate: number = this.sampleRate,
    options: HearOptions = {},
  ): Promise<TimestampEmbeddings> {
    checkAudio(audio, sampleRate);
    const hopMs = options.hopMs ?? this.options.hopMs ?? 50;
    if (!(hopMs > 0) || !Number.isFinite(hopMs)) throw new ClapError(`hopMs must be a positive number, got ${hopMs}`);
    const batch = options.batchSize ?? this.options.batchSize ?? 8;
    const embeddings: Float32Array[][] = [];
    const timestamps: number[][] = [];
    for (const samples of audio) {
      const x = sampleRate === MODEL_SAMPLE_RATE ? samples : resample(samples, sampleRate, MODEL_SAMPLE_RATE);
      const durationMs = (samples.length / sampleRate) * 1000;
      const times: number[] = [];
      for (let t = 0; t <= durationMs + 1e-9; t += hopMs) times.push(t);
      const embs: Float32Array[] = [];
      for (let s = 0; s < times.length; s += batch) {
        const mels = times.slice(s, s + batch).map((t) => logMel(centredWindow(x, Math.round((t / 1000) * MODEL_SAMPLE_RATE))));
        embs.push(...(await this.clap.embedLogMels(mels, batch)));
      }
      embeddings.push(embs);
      timestamps.push(times);
    }
    return { embeddings, timestamps };
  }

  release(): Promise<void> {
    return this.clap.release();
  }
}

/** The 7 s window of x (44.1 kHz) centred on sample `centre`, zero outside x. */
function centredWindow(x: Float32Array, centre: number): Float32Array {
  const w = new Float32Array(WINDOW_SAMPLES);
  const start = centre - Math.floor(WINDOW_SAMPLES / 2);
  const lo = Math.max(0, start);
  const hi = Math.min(x.length, start + WINDOW_SAMPLES);
  if (hi > lo) w.set(x.subarray(lo, hi), lo - start);
  return w;
}

function checkAudio(audio: readonly Float32Array[], sampleRate: number): void {
  if (audio.length === 0) throw new ClapError('no sounds given');
  if (!Number.isInteger(sampleRate) || sampleRate < 1) throw new ClapError(`sample rate must be a positive integer, got ${sampleRate}`);
  audio.forEach((a, i) => {
    if (!(a instanceof Float32Array)) throw new ClapError(`sound ${i} is not a Float32Array`);
    if (a.length === 0) throw new ClapError(`sound ${i} has no samples`);
  });
}

/** HEAR's load_model: a CLAP model wrapped in the HEAR API. */
export async function loadHearModel(options: ClapLoadOptions & HearOptions): Promise<HearModel> {
  return new HearModel(await Clap.load(options), options);
}

/** HEAR's module-level functions, for code written against the Python API. */
export function getSceneEmbeddings(audio: readonly Float32Array[], model: HearModel, sampleRate?: number): Promise<Float32Array[]> {
  return model.getSceneEmbeddings(audio, sampleRate);
}

export function getTimestampEmbeddings(
  audio: readonly Float32Array[],
  model: HearModel,
  sampleRate?: number,
  options?: HearOptions,
): Promise<TimestampEmbeddings> {
  return model.getTimestampEmbeddings(audio, sampleRate, options);
}
