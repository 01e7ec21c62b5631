import { ClapCapDecoder, randomClapCapWeights } from '../src/tasks/caption/index.js';
import { MSCLAP } from './model.js';
import type { Section } from './sections.js';
import { fmt, timeCpu, timeIt } from './util.js';

/** Full-size clapcap (GPT-2 124M, prefix 40, 8 mapper layers; random weights): beam 5, up to 67 tokens. */
export const captionSection: Section = {
  name: 'captioning: beam 5, 67 tokens, full-size shapes',
  async run(result, rows) {
    const dec = await ClapCapDecoder.load(randomClapCapWeights());
    try {
      const embeds = Array.from({ length: 4 }, (_, f) => Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * (f + 1) * 0.37)));
      const opts = { beamSize: 5, entryLength: 67 };
      // CPU seconds hold on a shared machine; one step streams all of GPT-2's weights (≈ 0.5 GB), so the
      // wall time on an idle machine is bounded by memory bandwidth, not by the MatMul peak.
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
    } finally {
      await dec.release();
    }
  },
};
