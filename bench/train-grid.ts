/**
 * Training the paper's encoder grid (Table 1: Cnn14 or HTSAT × BERT, RoBERTa or GPT-2, msclap's layout) at the
 * small size: CPU and wall seconds per contrastive step (forward + backward + Adam; Cnn14's BatchNorms in
 * training mode) and to compile it, on random weights and inputs.
 */
import { buildTrainStep, type HostTensor } from '../src/engine/index.js';
import { CLAP_PRESETS, GRID_AUDIO, GRID_TEXT, randomClapStateDict } from '../src/models/clap/index.js';
import { buildContrastiveGraph, type ContrastiveGraph } from '../src/tasks/train/model.js';
import type { Section } from './sections.js';
import { fmt, timeCpu } from './util.js';

const BATCH = 4;
const TEXT_LEN = 32;

function feeds(cg: ContrastiveGraph): Record<string, HostTensor> {
  const B = cg.batch;
  const n = B * cg.audio.shape.reduce((a, b) => a * b, 1);
  const mask = new BigInt64Array(B * TEXT_LEN).fill(1n);
  return {
    [cg.audio.name]: {
      dtype: 'float32',
      shape: [B, ...cg.audio.shape],
      data: Float32Array.from({ length: n }, (_, i) => -50 + 20 * Math.sin(i)),
    },
    input_ids: { dtype: 'int64', shape: [B, TEXT_LEN], data: BigInt64Array.from(mask, (_, i) => BigInt(3 + ((i * 7919) % 20000))) },
    attention_mask: { dtype: 'int64', shape: [B, TEXT_LEN], data: mask },
    targets: { dtype: 'float32', shape: [B, B], data: Float32Array.from({ length: B * B }, (_, i) => (i % (B + 1) === 0 ? 1 : 0)) },
  };
}

export const trainGridSection: Section = {
  name: `train grid: contrastive step of each Table 1 pair at the small size (batch ${BATCH}, ${TEXT_LEN} tokens)`,
  async run(result, rows) {
    const out: Record<string, unknown> = {};
    for (const audio of GRID_AUDIO) {
      for (const text of GRID_TEXT) {
        const name = `small-${audio}-${text}`;
        const cfg = CLAP_PRESETS[name];
        let step: Awaited<ReturnType<typeof buildTrainStep>> | undefined;
        let cg: ContrastiveGraph | undefined;
        const build = await timeCpu(
          async () => {
            cg = buildContrastiveGraph(randomClapStateDict(cfg, 1), cfg, BATCH, TEXT_LEN);
            step = await buildTrainStep(cg.loss, { optimizer: { kind: 'adam' }, lr: 1e-5, buffers: cg.buffers });
          },
          1,
          0,
        );
        const f = feeds(cg!);
        const t = await timeCpu(() => step!.run(f), 3, 1);
        await step!.release();
        out[name] = { build_s: build.wall, build_cpu_s: build.cpu, step_s: t.wall, step_cpu_s: t.cpu };
        rows.push({ what: `train step ${name} (s / CPU-s)`, value: `${fmt(t.wall)} / ${fmt(t.cpu)}` });
      }
    }
    result.train_grid = { batch: BATCH, text_len: TEXT_LEN, ...out };
  },
};
