/** HTSAT, msclap's audio encoder (models/htsat.py): config and graph. */
export {
  HTSAT_2023,
  type HtsatConfig,
  htsatConfigFromJson,
  htsatConfigToJson,
  htsatInputFrames,
  htsatNumFeatures,
  inferHtsatConfig,
} from './config.js';
export { buildHtsat, type HtsatBuildOptions, type HtsatOutputs } from './htsat.js';
export { logmelFrontend } from './spectrogram.js';
export { randomHtsatStateDict, type RandomHtsatOptions } from './random.js';
export { MSCLAP_SWIN_KEYS, type SwinBlockKeys, swinShiftMask } from './swin-block.js';
// The pieces LAION's HTSAT (hf-clap/) shares: stages, patch embedding, mel-to-image, the token stream.
export { basicLayer, type BasicLayerOptions } from './basic-layer.js';
export { patchEmbed, patchProjection } from './patch-embed.js';
export { reshapeWav2Img, type SpecImage } from './wav2img.js';
export { reorder, type TokenStream, toRaster } from './token-order.js';
export { swinRelativePositionIndex } from './window-attention.js';
