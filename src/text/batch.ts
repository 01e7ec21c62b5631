/** Token-id sequences padded into one row-major batch (with an attention mask) for a text encoder. */
import { ClapError } from '../errors.js';
import { VOCAB_SIZE } from './gpt2-ids.js';

export type IdDtype = 'int32' | 'int64';

export interface PadOptions {
  /**
   * Minimum padded length. Default: the batch's longest sequence. msclap pads GPT-2 texts to 77
   * (`CLAP_TEXT_LEN`) and BERT texts to 100; a longer sequence is never truncated here (truncation is
   * the tokenizer's business).
   */
  padTo?: number;
  /** The id padding positions get (default 0: msclap's GPT-2 `'!'` and BERT's `[PAD]`; RoBERTa's `<pad>` is 1). */
  padId?: number;
  /** Ids must be below this (default GPT-2's 50257). */
  vocabSize?: number;
}

export interface PaddedBatch<T extends Int32Array | BigInt64Array> {
  /** `[batchSize, seqLen]` row-major token ids, padded with the pad id. */
  ids: T;
  /** `[batchSize, seqLen]`, 1 for real tokens (a literal pad token in a text included), 0 for padding. */
  attentionMask: T;
  /** Real length of each row. */
  lengths: Int32Array;
  batchSize: number;
  seqLen: number;
}

/**
 * Pads token-id sequences into one row-major batch. By default rows are padded only to the longest
 * sequence; `padTo` gives a fixed width. `dtype` defaults to `'int64'` (BigInt64Array, ONNX's usual id type).
 */
export function padBatch(seqs: ReadonlyArray<ArrayLike<number>>, options: PadOptions & { dtype: 'int32' }): PaddedBatch<Int32Array>;
export function padBatch(seqs: ReadonlyArray<ArrayLike<number>>, options?: PadOptions & { dtype?: 'int64' }): PaddedBatch<BigInt64Array>;
export function padBatch(
  seqs: ReadonlyArray<ArrayLike<number>>,
  options?: PadOptions & { dtype?: IdDtype },
): PaddedBatch<Int32Array | BigInt64Array>;
export function padBatch(
  seqs: ReadonlyArray<ArrayLike<number>>,
  options: PadOptions & { dtype?: IdDtype } = {},
): PaddedBatch<Int32Array | BigInt64Array> {
  const { padTo, padId = 0, vocabSize = VOCAB_SIZE } = options;
  const dtype = options.dtype ?? 'int64';
  if (seqs.length === 0) throw new ClapError('cannot pad an empty batch (no texts)');
  if (padTo !== undefined && !(Number.isInteger(padTo) && padTo >= 0)) {
    throw new ClapError(`padTo must be a non-negative integer, got ${padTo}`, { subject: 'padTo' });
  }
  if (dtype !== 'int32' && dtype !== 'int64') throw new ClapError(`unknown id dtype ${JSON.stringify(dtype)}`, { subject: 'dtype' });
  const checkId = (id: number, row: number, col: number): number => {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new ClapError(`token id ${id} (row ${row}, position ${col}) is outside the vocabulary [0, ${vocabSize})`);
    }
    return id;
  };
  checkId(padId, -1, -1);
  const batchSize = seqs.length;
  const lengths = Int32Array.from(seqs, (s) => s.length);
  let seqLen = padTo ?? 0;
  for (const len of lengths) seqLen = Math.max(seqLen, len);
  const size = batchSize * seqLen;
  const ids = new Int32Array(size).fill(padId);
  const attentionMask = new Int32Array(size);
  seqs.forEach((s, b) => {
    for (let i = 0; i < s.length; i++) {
      ids[b * seqLen + i] = checkId(s[i]!, b, i);
      attentionMask[b * seqLen + i] = 1;
    }
  });
  if (dtype === 'int32') return { ids, attentionMask, lengths, batchSize, seqLen };
  return {
    ids: BigInt64Array.from(ids, (v) => BigInt(v)),
    attentionMask: BigInt64Array.from(attentionMask, (v) => BigInt(v)),
    lengths,
    batchSize,
    seqLen,
  };
}
