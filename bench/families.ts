/**
 * The other model families at full size (random weights of the published shapes), next to msclap 2023's
 * figures of bench/model.ts: audio clips/s (encoder on the frontend's output, batch 1 and 8) and the time of
 * 10 zero-shot labels through the text tower. The BERT and RoBERTa tokenizers are the fixture sets' files
 * (msclap 2022's 30522-entry vocab.txt, the Hugging Face folder's vocab.json + merges.txt): same sizes as
 * bert-base-uncased's and roberta-base's, so the same encoder work per label.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthWav } from '../src/audio/index.js';
import { countFlops } from '../src/engine/flops.js';
import {
  buildAudioEncoderGraph,
  CLAP_2022,
  type ClapConfig,
  LAION_CLAP_FUSED,
  LAION_CLAP_UNFUSED,
  randomClapStateDict,
} from '../src/models/clap/index.js';
import { applyTemplate, Clap } from '../src/tasks/clap.js';
import { frontend } from '../src/tasks/pipeline.js';
import { LABELS } from './model.js';
import type { Section } from './sections.js';
import { fmt, timeCpu } from './util.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'shared', 'fixtures');

interface Family {
  /** Result key prefix. */
  key: string;
  name: string;
  config: ClapConfig;
  tokenizer: string;
  /** A clip the frontend turns into one encoder input (fused: longer than 10 s, so the fusion path runs). */
  clip: { sampleRate: number; seconds: number };
}

const FAMILIES: Family[] = [
  {
    key: 'msclap2022',
    name: 'msclap 2022 (Cnn14 + BERT)',
    config: CLAP_2022,
    tokenizer: join(FIXTURES, 'msclap2022-tiny-seed1', 'bert-base-uncased'),
    clip: { sampleRate: 44100, seconds: 5 },
  },
  {
    key: 'laion_unfused',
    name: 'LAION CLAP unfused (HTSAT + RoBERTa)',
    config: LAION_CLAP_UNFUSED,
    tokenizer: join(FIXTURES, 'hfclap-tiny-seed1', 'model-unfused'),
    clip: { sampleRate: 48000, seconds: 10 },
  },
  {
    key: 'laion_fused',
    name: 'LAION CLAP fused, a 20 s clip (feature fusion)',
    config: LAION_CLAP_FUSED,
    tokenizer: join(FIXTURES, 'hfclap-tiny-seed1', 'model-fused'),
    clip: { sampleRate: 48000, seconds: 20 },
  },
];

async function benchFamily(f: Family, result: Record<string, unknown>, rows: { what: string; value: string }[]): Promise<void> {
  const weights = randomClapStateDict(f.config);
  const clap = await Clap.load({ weights, config: f.config, tokenizer: f.tokenizer, cacheDir: false });
  try {
    const input = await frontend(synthWav(f.clip.sampleRate, f.clip.seconds), { model: f.config.frontend });
    const flops = countFlops(buildAudioEncoderGraph(weights, f.config), { B: 1 });
    const perClip: Record<string, number> = {};
    const cpuPerClip: Record<string, number> = {};
    for (const b of [1, 8]) {
      const batch = Array.from({ length: b }, () => input.logmels[0]);
      const longer = batch.map(() => input.isLonger?.[0] ?? false);
      const t = await timeCpu(() => clap.embedLogMels(batch, b, longer), b === 1 ? 5 : 2, 1);
      perClip[`b${b}`] = b / t.wall;
      cpuPerClip[`b${b}`] = t.cpu / b;
    }
    const texts = LABELS.map((l) => applyTemplate(clap.template, l));
    const textT = await timeCpu(() => clap.embedText(texts), 5, 2);
    result[`${f.key}_audio_gflops_per_clip`] = flops / 1e9;
    result[`${f.key}_audio_clips_per_s`] = perClip;
    result[`${f.key}_audio_cpu_s_per_clip`] = cpuPerClip;
    result[`${f.key}_text_ms_10_labels`] = textT.wall * 1000;
    result[`${f.key}_text_cpu_ms_10_labels`] = textT.cpu * 1000;
    const clips = ['b1', 'b8'].map((b) => `${fmt(perClip[b])} (batch ${b.slice(1)}, ${fmt(cpuPerClip[b])} CPU-s/clip)`).join(', ');
    rows.push({ what: `${f.name}: audio clips/s`, value: `${clips}; ${fmt(flops / 1e9)} GFLOP/clip` });
    rows.push({ what: `${f.name}: text, 10 labels (ms)`, value: `${fmt(textT.wall * 1000)} wall, ${fmt(textT.cpu * 1000)} CPU` });
  } finally {
    await clap.release();
  }
}

export const familiesSection: Section = {
  name: 'families: msclap 2022 and LAION CLAP (unfused, fused), full-size shapes',
  async run(result, rows) {
    for (const f of FAMILIES) {
      if (!existsSync(f.tokenizer)) {
        rows.push({ what: `${f.name}`, value: `skipped: no tokenizer at ${f.tokenizer}` });
        continue;
      }
      await benchFamily(f, result, rows);
    }
  },
};
