/**
 * Training: contrastive pre-training of CLAP (`clap train contrastive`), fine-tuning, captioning and the
 * linear probe — all in one loop (loop.ts) — and the curves (`clap train plot`).
 */
export {
  trainContrastive,
  evaluateSplit,
  type ContrastiveOptions,
  type TrainSummary,
  type EpochMetrics,
  type FreezeGroup,
} from './contrastive.js';
export {
  buildContrastiveGraph,
  type ContrastiveGraph,
  exportStateDict,
  paramGroup,
  parseParamName,
  LOGIT_SCALE_MAX,
  type ParamGroup,
} from './model.js';
export { readManifest, splitItems, labelledSplit, parseCsv, type ManifestItem } from './manifest.js';
export { FeatureStore, embedItems } from './features.js';
export { learningRate, endOfEpoch, initialScheduleState, type ScheduleConfig, type ScheduleState } from './schedule.js';
export { saveCheckpoint, loadCheckpoint } from './checkpoint.js';
export { retrieval, zeroShotAccuracy, hitProbability } from './metrics.js';
export { readLog, renderSvg, type LogEntry } from './plot.js';
export { trainProbe, type ProbeOptions, type ProbeSummary } from './probe.js';
export {
  trainLinearHead,
  headAccuracy,
  headProbabilities,
  loadLinearHead,
  saveLinearHead,
  predictHead,
  LinearHeadStep,
  type LinearHead,
} from './linear-head.js';
export {
  openRun,
  runLoop,
  streams,
  type LoopOptions,
  type LoopResult,
  type RunStatus,
  type Trainer,
  type TrainEvent,
  type Stepper,
  type Evaluation,
  type EpochRecord,
} from './loop.js';
export type { RunOptions } from './run-options.js';
export { trainCaption, buildCaptionGraph, captionTokens, type CaptionTrainOptions, type CaptionTrainSummary } from './caption.js';
export { finetune, type FinetuneOptions, type FinetuneSummary } from './finetune.js';
export { specAugment, mixupBatch, betaSample, type SpecAugmentOptions } from './augment.js';
export { CAPTION_TRAIN_DEFAULTS, CONTRASTIVE_DEFAULTS, FEATURE_DEFAULTS, FINETUNE_DEFAULTS, PROBE_DEFAULTS } from './defaults.js';
