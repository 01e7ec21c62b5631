/** Training: seconds per contrastive step (forward + backward + Adam) and memory on the official 2023 shapes. */
import { buildTrainStep, type HostTensor } from '../src/engine/index.js';
import { CLAP_2023 } from '../src/models/clap/index.js';
import { buildContrastiveGraph } from '../src/tasks/train/model.js';
import { fullSizeWeights } from './model.js';
import type { Section } from './sections.js';
import { fmt } from './util.js';

const BATCH = Number(process.env.CLAP_BENCH_TRAIN_BATCH ?? 2);
const TEXT_LEN = 77;

function feeds(B: number): Record<string, HostTensor> {
  let s = 1;
  const r = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const targets = new Float32Array(B * B);
  for (let i = 0; i < B; i++) targets[i * B + i] = 1;
  return {
    logmel: { dtype: 'float32', shape: [B, 965, 64], data: Float32Array.from({ length: B * 965 * 64 }, () => -60 + 40 * r()) },
    input_ids: {
      dtype: 'int64',
      shape: [B, TEXT_LEN],
      data: BigInt64Array.from({ length: B * TEXT_LEN }, (_, i) => BigInt(i % TEXT_LEN < 12 ? 1 + Math.floor(r() * 50000) : 0)),
    },
    attention_mask: {
      dtype: 'int64',
      shape: [B, TEXT_LEN],
      data: BigInt64Array.from({ length: B * TEXT_LEN }, (_, i) => (i % TEXT_LEN < 12 ? 1n : 0n)),
    },
    targets: { dtype: 'float32', shape: [B, B], data: targets },
  };
}

export const trainSection: Section = {
  name: `train: contrastive step on the official 2023 shapes (batch ${BATCH}, ${TEXT_LEN} tokens)`,
  async run(result, rows) {
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    const cg = buildContrastiveGraph(fullSizeWeights(), { ...CLAP_2023 }, BATCH, TEXT_LEN);
    const step = await buildTrainStep(cg.loss, { optimizer: { kind: 'adam' }, lr: 1e-5 });
    const buildS = (performance.now() - t0) / 1000;
    let peak = process.memoryUsage().rss;
    const f = feeds(BATCH);
    const times: number[] = [];
    let loss = NaN;
    for (let i = 0; i < 4; i++) {
      const t = performance.now();
      loss = (await step.run(f)).loss;
      times.push((performance.now() - t) / 1000);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    await step.release();
    const steady = times.slice(1).sort((a, b) => a - b)[1];
    const params = step.paramNames.length;
    result.train = {
      batch: BATCH,
      text_len: TEXT_LEN,
      build_s: buildS,
      s_per_step: steady,
      first_step_s: times[0],
      peak_rss_mb: peak / 1e6,
      rss_growth_mb: (peak - rss0) / 1e6,
      trainable_tensors: params,
      loss,
    };
    rows.push({ what: `train step 2023 shapes, batch ${BATCH} (s)`, value: fmt(steady) });
    rows.push({ what: 'train step: compile (s) / first step (s)', value: `${fmt(buildS)} / ${fmt(times[0])}` });
    rows.push({ what: 'train step: peak RSS (MB)', value: fmt(peak / 1e6, 4) });
  },
};
