/**
 * The evaluation harness: dataset adapters for the paper's benchmarks (official layouts), metrics,
 * zero-shot scoring with an embedding cache, reports, and the HEAR API.
 *
 *   const clap = await Clap.load({ weights });
 *   const data = loadDataset('esc50', '/data/ESC-50-master');
 *   const result = await evaluateDataset(clap, data, { cache: new EmbeddingCache() });
 *   writeReport(result, 'esc50.md');
 */
export * from './metrics.js';
export { ciderD, spider, tokenizeCaption, type CiderOptions } from './cider.js';
export * from './datasets/index.js';
export { CacheShard, EmbeddingCache, defaultCacheDir, modelKey } from './cache.js';
export {
  audioCacheKeyOptions,
  classTextEmbeddings,
  embedItems,
  embedTexts,
  EVAL_DEFAULTS,
  evaluateCaptions,
  evaluateDataset,
  zeroShotProbabilities,
  type ClassPrediction,
  type EvalAudioOptions,
  type EvalDetails,
  type EvalOptions,
  type EvalResult,
  type PerClass,
} from './evaluate.js';
export { PAPER_2023, PAPER_SOURCE, paperNumbers, renderMarkdown, reportJson, writeReport, type ReportContext } from './report.js';
export { encodePng, renderConfusionMatrix } from './png.js';
export {
  HearModel,
  getSceneEmbeddings,
  getTimestampEmbeddings,
  loadHearModel,
  type HearOptions,
  type TimestampEmbeddings,
} from './hear.js';
export { parseDelimited, readCsv, readJsonl } from './table.js';
