import { loadavg } from 'node:os';
import { ClapCapDecoder, randomClapCapWeights } from '../src/tasks/caption/index.js';
import { MSCLAP } from './model.js';
import type { Section } from './sections.js';
import { cosine, fmt, timeCpu, timeIt, timeOnce } from './util.js';

/** Full-size clapcap (GPT-2 124M, prefix 40, 8 mapper layers; random weights): beam 5, up to 67 tokens. */
export const captionSection: Section = {
  name: 'captioning: beam 5, 67 tokens, full-size shapes (fp32, and GPT-2 at --precision int8)',
  async run(result, rows) {
    const sd = randomClapCapWeights();
    const dec = await ClapCapDecoder.load(sd);
    const int8 = await ClapCapDecoder.load(sd, {}, { precision: 'int8' });
    try {
      const embeds = Array.from({ length: 4 }, (_, f) => Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * (f + 1) * 0.37)));
      const opts = { beamSize: 5, entryLength: 67 };
      // CPU seconds hold on a shared machine; one step streams all of GPT-2's weights (≈ 0.5 GB in fp32),
      // so the wall time on an idle machine is bounded by memory bandwidth, not by the MatMul peak.
      const { wall: one, cpu: oneCpu } = await timeCpu(() => dec.caption(embeds.slice(0, 1), opts), 3, 1);
      const four = (await timeIt(() => dec.caption(embeds, opts), 1, 0)) / 4;
      const uncached = await timeIt(() => dec.caption(embeds.slice(0, 1), { ...opts, kvCache: false }), 1, 0);
      result.caption_s = one;
      result.caption_cpu_s = oneCpu;
      result.caption_s_batched_4 = four;
      result.caption_s_no_cache = uncached;
      rows.push({
        what: 'caption, 1 file, KV cache (s)',
        value: `${fmt(one)} wall, ${fmt(oneCpu)} CPU (msclap ${MSCLAP.captionS} s, ${fmt(MSCLAP.captionS / one)}x)`,
      });
      rows.push({ what: 'caption, 4 files batched, per caption (s)', value: fmt(four) });
      rows.push({ what: 'caption, 1 file, no cache as msclap (s)', value: fmt(uncached) });

      // int8 against fp32, interleaved (same load): the same files, one caption each in turn.
      await int8.caption(embeds.slice(0, 1), opts);
      const ab = { fp32: { wall: 0, cpu: 0 }, int8: { wall: 0, cpu: 0 } };
      const tokens: Record<'fp32' | 'int8', number[][]> = { fp32: [], int8: [] };
      for (const e of embeds.slice(0, 3)) {
        for (const [name, d] of [
          ['fp32', dec],
          ['int8', int8],
        ] as const) {
          const t = await timeOnce(() => d.caption([e], opts));
          ab[name].wall += t.wall / 3;
          ab[name].cpu += t.cpu / 3;
          tokens[name].push(t.value[0].tokens);
        }
      }
      const [prefix] = await dec.prefixEmbeddings(embeds.slice(0, 1));
      const P = dec.config.prefixLength;
      const [a, b] = await Promise.all([dec, int8].map((d) => d.model.forward(prefix, P)));
      const agree = tokens.fp32
        .map((f, i) => f.findIndex((t, j) => t !== tokens.int8[i][j]))
        .map((k, i) => (k < 0 ? tokens.fp32[i].length : k));
      result.caption_int8 = {
        s: ab.int8.wall,
        cpu_s: ab.int8.cpu,
        fp32_s: ab.fp32.wall,
        fp32_cpu_s: ab.fp32.cpu,
        cpu_speedup: ab.fp32.cpu / ab.int8.cpu,
        first_step_logits_cosine: cosine(a.logits, b.logits),
        common_token_prefix: agree,
        load_average: loadavg()[0],
      };
      rows.push({
        what: 'caption, GPT-2 int8 vs fp32 (s, A/B)',
        value:
          `${fmt(ab.int8.wall)} wall, ${fmt(ab.int8.cpu)} CPU vs ${fmt(ab.fp32.wall)}, ${fmt(ab.fp32.cpu)} ` +
          `(${fmt(ab.fp32.cpu / ab.int8.cpu)}x less CPU); first-step logits cosine ${cosine(a.logits, b.logits).toFixed(5)}, ` +
          `same tokens for ${agree.join(' / ')} of 67 (random weights: near-tied logits)`,
      });
    } finally {
      await dec.release();
      await int8.release();
    }
  },
};
