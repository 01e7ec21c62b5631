/** GPT-2 (Hugging Face GPT2Model / GPT2LMHeadModel): config and graph. */
export { GPT2_BASE, type Gpt2Config, gpt2ConfigFromJson, gpt2ConfigToJson, inferGpt2Config } from './config.js';
export {
  causalMask,
  concatSymbolic,
  gpt2AddPositions,
  gpt2Embed,
  gpt2LmHead,
  gpt2Params,
  type Gpt2BlockParams,
  type Gpt2Params,
  gpt2TokenEmbeddings,
  gpt2Transformer,
  type Gpt2TransformerOptions,
  type Gpt2TransformerResult,
  type KeyValue,
} from './gpt2.js';
export { randomGpt2StateDict } from './random.js';
