/**
 * clap-ts in the browser (`clap-ts/web`): the models `clap export onnx` writes, run in onnxruntime-web with
 * the library's own resampler, windowing, tokenizer and zero-shot math.
 *
 *   const clap = await Clap.load({ model: '/models/clap/', onProgress: (p) => console.log(p.file, p.loaded, p.total) });
 *   const [result] = await clap.classify([file], ['dog barking', 'rain']);
 */
export {
  Clap,
  type WebAudioEmbedding,
  type WebAudioEmbedOptions,
  type WebClapLoadOptions,
  type WebClassifyOptions,
} from './clap.js';
export type { SamplesInput, WebAudioInput, WebWindowOptions } from './audio-input.js';
export { type LoadProgress, MODEL_CACHE, type ModelLocation } from './model-files.js';
export type { Device, RuntimeOptions } from './runtime.js';
export type { ClapExport } from '../tasks/clap-export.js';
export type { Classification } from '../tasks/zero-shot.js';
export { ClapError } from '../errors.js';
