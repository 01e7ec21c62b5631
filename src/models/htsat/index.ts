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
export { randomHtsatStateDict, type RandomHtsatOptions } from './random.js';
export { swinShiftMask } from './swin-block.js';
export { swinRelativePositionIndex } from './window-attention.js';
