import { type Command, UsageError } from '../command.js';
import { AUDIO_HELP, AUDIO_OPTIONS, audioOptions, loadModel, MODEL_HELP, MODEL_OPTIONS, needFiles } from './shared.js';

function preview(v: Float32Array): string {
  let s = 0;
  for (const x of v) s += x * x;
  return `dim ${v.length}  norm ${Math.sqrt(s).toFixed(4)}  [${Array.from(v.subarray(0, 4), (x) => x.toFixed(4)).join(', ')}, …]`;
}

export const embedAudio: Command = {
  path: ['embed', 'audio'],
  usage: 'embed audio FILE... --weights W',
  summary: 'Audio embeddings (projected, not normalised, as msclap get_audio_embeddings)',
  options: { ...MODEL_OPTIONS, ...AUDIO_OPTIONS },
  help: `${MODEL_HELP}\n${AUDIO_HELP}\n  --json             [{"input", "embedding": number[], "windows"?: [{"start","end","embedding"}]}]`,
  async run(ctx) {
    const files = needFiles(ctx);
    const clap = await loadModel(ctx.values);
    try {
      const result = await clap.embedAudio(files, audioOptions(ctx, files.length));
      if (ctx.json) {
        ctx.stdout.write(
          `${JSON.stringify(
            result.map((r) => ({
              input: r.input,
              embedding: Array.from(r.embedding),
              ...(r.windows ? { windows: r.windows.map((w) => ({ start: w.start, end: w.end, embedding: Array.from(w.embedding) })) } : {}),
            })),
          )}\n`,
        );
      } else {
        for (const r of result)
          ctx.stdout.write(`${r.input}  ${preview(r.embedding)}${r.windows ? `  (${r.windows.length} windows)` : ''}\n`);
      }
    } finally {
      await clap.release();
    }
  },
};

export const embedText: Command = {
  path: ['embed', 'text'],
  usage: 'embed text TEXT... --weights W',
  summary: 'Text embeddings (projected, not normalised, as msclap get_text_embeddings)',
  options: { ...MODEL_OPTIONS },
  help: `${MODEL_HELP}\n  --json             [{"input", "embedding": number[]}]`,
  async run(ctx) {
    if (ctx.positionals.length === 0) throw new UsageError('give at least one text');
    const clap = await loadModel(ctx.values);
    try {
      const result = await clap.embedText(ctx.positionals);
      if (ctx.json)
        ctx.stdout.write(`${JSON.stringify(result.map((e, i) => ({ input: ctx.positionals[i], embedding: Array.from(e) })))}\n`);
      else result.forEach((e, i) => ctx.stdout.write(`${JSON.stringify(ctx.positionals[i])}  ${preview(e)}\n`));
    } finally {
      await clap.release();
    }
  },
};
