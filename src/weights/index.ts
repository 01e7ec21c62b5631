/** Weight files: PyTorch checkpoints (read without Python), safetensors, state-dict checks. */
export {
  type StateDict,
  type StateDictLike,
  type Checkpoint,
  type ExpectedTensor,
  type CheckOptions,
  type CheckReport,
  type ShapeMismatch,
  type DTypeMismatch,
  type TakeOptions,
  checkStateDict,
  take,
  lookup,
  toStateDict,
  withPrefix,
  assertTensor,
  shapeMatches,
  GPT2_HARMLESS_UNEXPECTED,
  hashStateDict,
} from './state-dict.js';
export {
  type PthLoadOptions,
  type PthSaveOptions,
  loadPth,
  loadPthCheckpoint,
  readPth,
  savePth,
  encodePth,
  encodePthChunks,
} from './pth.js';
export {
  loadSafetensors,
  loadSafetensorsCheckpoint,
  readSafetensors,
  saveSafetensors,
  encodeSafetensors,
  encodeSafetensorsChunks,
  MAX_HEADER_BYTES,
} from './safetensors.js';
export {
  type WeightFormat,
  type LoadOptions,
  type LoadTiming,
  detectFormat,
  readWeights,
  loadCheckpoint,
  loadWeights,
  timeLoad,
} from './load.js';
export { type ConvertResult, convertToSafetensors, convertWeights, weightFormatOfName } from './convert.js';
