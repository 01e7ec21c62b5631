/** Audio captioning (msclap clapcap): decoding strategies over the clapcap GPT-2 decoder. */
export {
  ClapCapCache,
  type ClapCapConfig,
  clapCapConfig,
  ClapCapModel,
  type ClapCapSettings,
  CLAPCAP_STOP_TOKEN,
} from '../../models/clapcap.js';
export {
  type CaptionBeam,
  type CaptionOptions,
  type CaptionResult,
  type CaptionStrategy,
  captionFromPrefix,
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
export { CLAPCAP_2023, randomClapCapStateDict as randomClapCapWeights, type RandomClapCapOptions } from '../../models/random.js';
