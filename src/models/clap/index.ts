/** msclap's CLAP (models/clap.py): config, the two towers' graphs, Projection. */
export { CLAP_2023, CLAP_PRESETS, type ClapConfig, clapConfigFromJson, clapConfigToJson, resolveClapConfig } from './config.js';
export { AUDIO_ENCODER_GRAPHS, type AudioEncoderGraphOptions, type AudioEncoderInput, buildAudioEncoderGraph } from './audio-encoder.js';
export { buildTextEncoderGraph, TEXT_ENCODER_GRAPHS, type TextEncoderGraphOptions, textEncoderFeeds } from './text-encoder.js';
export { l2Normalize, logitScaleExp, projection, type ProjectionParams, projectionParams, similarity } from './projection.js';
export { randomClapStateDict, randomProjectionStateDict } from './random.js';
