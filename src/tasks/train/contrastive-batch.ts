/**
 * The contrastive trainer's micro-batches: a random 7 s crop of each clip's log-mel, one of its captions
 * (GPT-2 tokens, cut to the text length), the [B, B] targets (positives: identical captions, or the same
 * label), and optional SpecAugment and mixup — all drawn from the micro-batch's own random stream.
 */
import type { HostTensor } from '../../engine/index.js';
import { defaultTokenizer } from '../../text/index.js';
import type { Rng } from '../rng.js';
import { mixupBatch, specAugment, type SpecAugmentOptions } from './augment.js';
import { CROP_FRAMES, type FeatureStore, MEL_BINS, randomCropInto } from './features.js';
import type { ManifestItem } from './manifest.js';

export interface ContrastiveBatchOptions {
  batch: number;
  textLen: number;
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
  const { batch, textLen } = o;
  const tokenize = captionTokenizer(textLen);
  return async (idx, rng) => {
    const feats = await Promise.all(idx.map((i) => store.get(items[i].path)));
    const logmel = new Float32Array(batch * CROP_FRAMES * MEL_BINS);
    const ids = new BigInt64Array(batch * textLen);
    const pool = new BigInt64Array(batch);
    const keys: string[] = [];
    idx.forEach((i, k) => {
      randomCropInto(feats[k], rng, logmel, k);
      const caps = items[i].captions;
      const cap = caps[rng.int(caps.length)];
      keys.push(o.positives === 'label' && items[i].label !== undefined ? `label\0${items[i].label}` : `caption\0${cap}`);
      const t = tokenize(cap);
      t.ids.forEach((id, j) => {
        ids[k * textLen + j] = BigInt(id);
      });
      pool[k] = BigInt(k * textLen + t.eos);
    });
    const targets = new Float32Array(batch * batch);
    for (let r = 0; r < batch; r++) {
      const same = keys.map((c, j) => (c === keys[r] ? j : -1)).filter((j) => j >= 0);
      for (const j of same) targets[r * batch + j] = 1 / same.length;
    }
    if (o.specAugment) {
      const sa = o.specAugment === true ? {} : o.specAugment;
      for (let k = 0; k < batch; k++) specAugment(logmel, k * CROP_FRAMES * MEL_BINS, CROP_FRAMES, MEL_BINS, rng, sa);
    }
    if (o.mixup && o.mixup > 0) mixupBatch(logmel, targets, batch, rng, o.mixup);
    return {
      logmel: { dtype: 'float32', shape: [batch, CROP_FRAMES, MEL_BINS], data: logmel },
      input_ids: { dtype: 'int64', shape: [batch, textLen], data: ids },
      pool_index: { dtype: 'int64', shape: [batch], data: pool },
      targets: { dtype: 'float32', shape: [batch, batch], data: targets },
    };
  };
}

/** Caption → CLAP text tokens cut to `textLen` (keeping the end token) and the pooled position; memoised. */
function captionTokenizer(textLen: number): (text: string) => { ids: number[]; eos: number } {
  const tok = defaultTokenizer();
  const cache = new Map<string, { ids: number[]; eos: number }>();
  return (text) => {
    let t = cache.get(text);
    if (!t) {
      const e = tok.encodeForClap(text);
      let ids = e.ids;
      let eos = e.eosPosition;
      if (ids.length > textLen) {
        ids = [...ids.slice(0, textLen - 1), ids[ids.length - 1]];
        eos = textLen - 1;
      }
      t = { ids, eos };
      cache.set(text, t);
    }
    return t;
  };
}
