/** CLAP models (msclap's models/clap.py, and every family's layout as data): config, the two towers' graphs, Projection. */
export {
  audioEncoderPrefix,
  audioFeatures,
  audioInputShape,
  audioMelBins,
  audioProjectionPrefix,
  CLAP_2022,
  CLAP_2023,
  CLAP_PRESET_NAMES,
  CLAP_PRESETS,
  type ClapAudioEncoderConfig,
  type ClapConfig,
  clapConfigFromJson,
  clapConfigToJson,
  clapFamily,
  type ClapFrontend,
  type ClapTextEncoderConfig,
  describeClap,
  GRID_AUDIO,
  GRID_TEXT,
  hfClapConfig,
  LAION_CLAP_FUSED,
  LAION_CLAP_UNFUSED,
  resolveClapConfig,
  textEncoderPrefix,
  textFeatures,
  textMaxTokens,
  textProjectionPrefix,
} from './config.js';
export { CLAP_FAMILIES, type ClapFamily } from './family.js';
export {
  AUDIO_ENCODER_GRAPHS,
  type AudioEncoderGraphOptions,
  type AudioEncoderInput,
  audioGraphName,
  buildAudioEncoderGraph,
  type ClapAudioEmbedding,
  clapAudioEmbedding,
} from './audio-encoder.js';
export {
  buildTextEncoderGraph,
  type ClapTextEmbedding,
  clapTextEmbedding,
  TEXT_ENCODER_GRAPHS,
  type TextEncoderGraphOptions,
  type TextFeedSpec,
  textEncoderFeeds,
  textGraphName,
} from './text-encoder.js';
export { l2Normalize, logitScaleExp, projection, type ProjectionParams, projectionParams, similarity } from './projection.js';
export { randomClapStateDict, randomProjectionStateDict } from './random.js';
