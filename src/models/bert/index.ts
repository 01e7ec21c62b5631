/** BERT (transformers' BertModel; RoBERTa / ClapTextModel share its layout): config and graph. */
export { BERT_BASE, type BertConfig, bertConfigFromJson, bertConfigToJson, inferBertConfig, ROBERTA_BASE } from './config.js';
export { bertModel, type BertParams, bertParams, bertPooler, bertPositionIds, type BertPositions, firstToken } from './bert.js';
export { randomBertStateDict } from './random.js';
