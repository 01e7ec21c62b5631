/** Audio captioning (msclap clapcap): decoding strategies over the clapcap GPT-2 decoder. */
export {
  CLAPCAP_2023,
  type ClapCapConfig,
  clapCapConfig,
  type ClapCapSettings,
  CLAPCAP_STOP_TOKEN,
  randomClapCapStateDict as randomClapCapWeights,
  type RandomClapCapOptions,
} from '../../models/clapcap/index.js';
export { ClapCapCache } from './kv-cache.js';
export { ClapCapModel, type DecoderOutput, type KvBlock, type KvPool } from './model.js';
export {
  type CaptionBeam,
  type CaptionOptions,
  type CaptionResult,
  type CaptionStrategy,
  CAPTION_DEFAULTS,
  CAPTION_STRATEGIES,
  ClapCapDecoder,
} from './decoder.js';
export {
  beamSearch,
  type BeamOptions,
  type CaptionLm,
  type LmState,
  type RankedBeam,
  sample,
  sampleToken,
  type SampleOptions,
  type SearchResult,
  seededRandom,
} from './search.js';
export { argsortDescending, greaterNanFirst, TopkHeap, torchTopk } from './topk.js';
export { beamTemperature, logProb, rowLogProbs, rowStats, type RowStats, statsFromSum, toFloat32 } from './logprobs.js';
