/**
 * The contrastive trainer's micro-batches: a random window of each clip's features (ClipInputs: the model's
 * encoder input), one of its captions (the model's tokens, cut to the text length keeping the end token,
 * padded as inference pads them), the [B, B] targets (positives: identical captions, or the same label), and
 * optional SpecAugment and mixup — all drawn from the micro-batch's own random stream.
 */
import type { HostTensor } from '../../engine/index.js';
import type { Rng } from '../rng.js';
import type { TextEncoding } from '../text-encoding.js';
import { mixupBatch, specAugment, type SpecAugmentOptions } from './augment.js';
import type { ClipInputs, FeatureStore } from './features.js';
import type { ManifestItem } from './manifest.js';

export interface ContrastiveBatchOptions {
  batch: number;
  textLen: number;
  /** The model's audio input. */
  inputs: ClipInputs;
  /** The model's tokenization. */
  encoding: TextEncoding;
  positives?: 'caption' | 'label';
  specAugment?: boolean | SpecAugmentOptions;
  mixup?: number;
}

/** Feeds of the contrastive graph (model.ts) for micro-batches of `items`. */
export function contrastiveBatches(
  items: readonly ManifestItem[],
  store: FeatureStore,
  o: ContrastiveBatchOptions,
): (indices: readonly number[], rng: Rng) => Promise<Record<string, HostTensor>> {
  const { batch, textLen, inputs } = o;
  const tokenize = captionTokenizer(o.encoding, textLen);
  return async (idx, rng) => {
    const audio = await inputs.batch(
      store,
      idx.map((i) => items[i].path),
      rng,
    );
    const ids = new BigInt64Array(batch * textLen).fill(BigInt(o.encoding.padId));
    const mask = new BigInt64Array(batch * textLen);
    const keys: string[] = [];
    idx.forEach((i, k) => {
      const caps = items[i].captions;
      const cap = caps[rng.int(caps.length)];
      keys.push(o.positives === 'label' && items[i].label !== undefined ? `label\0${items[i].label}` : `caption\0${cap}`);
      tokenize(cap).forEach((id, j) => {
        ids[k * textLen + j] = BigInt(id);
        mask[k * textLen + j] = 1n;
      });
    });
    const targets = new Float32Array(batch * batch);
    for (let r = 0; r < batch; r++) {
      const same = keys.map((c, j) => (c === keys[r] ? j : -1)).filter((j) => j >= 0);
      for (const j of same) targets[r * batch + j] = 1 / same.length;
    }
    const data = audio[inputs.spec.name].data as Float32Array;
    if (o.specAugment) {
      const sa = o.specAugment === true ? {} : o.specAugment;
      const per = inputs.frames * inputs.mels;
      for (let c = 0; c < batch * inputs.channels; c++) specAugment(data, c * per, inputs.frames, inputs.mels, rng, sa);
    }
    if (o.mixup && o.mixup > 0) mixupBatch(data, targets, batch, rng, o.mixup);
    return {
      ...audio,
      input_ids: { dtype: 'int64', shape: [batch, textLen], data: ids },
      attention_mask: { dtype: 'int64', shape: [batch, textLen], data: mask },
      targets: { dtype: 'float32', shape: [batch, batch], data: targets },
    };
  };
}

/** Caption → the model's tokens (specials included) cut to `textLen`, keeping the end token; memoised. */
function captionTokenizer(encoding: TextEncoding, textLen: number): (text: string) => number[] {
  const cache = new Map<string, number[]>();
  return (text) => {
    let ids = cache.get(text);
    if (!ids) {
      ids = encoding.tokenize(text);
      if (ids.length > textLen) ids = [...ids.slice(0, textLen - 1), ids[ids.length - 1]];
      cache.set(text, ids);
    }
    return ids;
  };
}
