/** msclap's clapcap (models/mapper.py's TransformerMapper + a GPT-2 LM head decoder): config and graphs. */
export {
  CLAPCAP_2023,
  CLAPCAP_GPT_PREFIX,
  CLAPCAP_STOP_TOKEN,
  type ClapCapConfig,
  clapCapConfig,
  type ClapCapSettings,
  inferMapperConfig,
  MAPPER_HEADS,
  MAPPER_PREFIX,
  type MapperConfig,
} from './config.js';
export { buildClapCapDecoderGraph, buildClapCapPrefixGraph, kvNames } from './decoder.js';
export { type MapperParams, mapperParams, type MapperResult, transformerMapper } from './mapper.js';
export { type RandomClapCapOptions, randomClapCapStateDict } from './random.js';
