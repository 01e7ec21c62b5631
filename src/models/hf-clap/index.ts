/** Hugging Face / LAION CLAP (transformers' ClapModel: LAION's HTSAT with optional fusion, RoBERTa, projections): config and graphs. */
export {
  type ClapAudioConfig,
  HF_CLAP_FRAMES,
  type HfClapConfig,
  hfClapConfigFromJson,
  LAION_CLAP_FUSED,
  LAION_CLAP_UNFUSED,
} from './config.js';
export { buildClapAudioEncoder, type ClapAudioEncoderOutputs, HF_SWIN_KEYS } from './audio-encoder.js';
export {
  buildHfClapAudioGraph,
  buildHfClapTextGraph,
  clapLogitScales,
  type HfClapGraphOptions,
  hfClapAudioEmbedding,
  hfClapTextEmbedding,
} from './clap-model.js';
export { clapProjection, type ClapProjectionParams, clapProjectionParams } from './projection-layer.js';
export { randomClapAudioStateDict } from './random.js';
