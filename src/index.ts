/** clap-ts: the package root. */
export { ClapError } from './errors.js';
export {
  Clap,
  applyTemplate,
  DEFAULT_TEMPLATE,
  HF_TEMPLATE,
  scoreLabels,
  type AudioEmbedding,
  type AudioEmbedOptions,
  type Classification,
  type ClassifyOptions,
  type ClapLoadOptions,
  type InputError,
  type InputErrorMode,
  isInputError,
  type WindowEmbedding,
} from './tasks/clap.js';
export { ClapCap, type Caption, type CaptionCallOptions, type CaptionWindow, type ClapCapLoadOptions } from './tasks/clapcap.js';
export { CLAP_2023, CLAP_PRESETS, clapConfigFromJson, clapConfigToJson, type ClapConfig } from './models/clap/index.js';
export {
  loadWeights,
  loadCheckpoint,
  savePth,
  loadSafetensors,
  saveSafetensors,
  convertToSafetensors,
  convertWeights,
  checkStateDict,
  type StateDict,
} from './weights/index.js';
export {
  decodeAudio,
  loadAudio,
  openAudioStream,
  audioToLogMel,
  logMel,
  REFERENCE_FRONTEND,
  PAPER_FRONTEND,
  type AudioInput,
  type FrontendConfig,
} from './audio/index.js';
export { Gpt2Tokenizer, defaultTokenizer } from './text/index.js';
export { ClapIndex } from './tasks/clap-index.js';
export { ClapCapDecoder, type CaptionOptions, type CaptionBeam } from './tasks/caption/index.js';
export { loadHearModel } from './tasks/eval/index.js';
