import { plural } from '../../errors.js';
import { defineCommand, UsageError } from '../command.js';
import { isInputError } from '../../tasks/clap.js';
import { AUDIO_OPTIONS, embedOptions, failIfStrict, loadModel, MODEL_OPTIONS, needFiles, reportSkipped, STRICT_OPTION } from './shared.js';

function preview(v: Float32Array): string {
  let s = 0;
  for (const x of v) s += x * x;
  return `dim ${v.length}  norm ${Math.sqrt(s).toFixed(4)}  [${Array.from(v.subarray(0, 4), (x) => x.toFixed(4)).join(', ')}, …]`;
}

export const embedAudio = defineCommand({
  path: ['embed', 'audio'],
  usage: 'embed audio FILE... --weights W',
  summary: 'Audio embeddings, as msclap get_audio_embeddings',
  details: 'Projected, not normalised; one per file (the mean of its windows with --sliding).',
  options: { ...MODEL_OPTIONS, ...AUDIO_OPTIONS, ...STRICT_OPTION },
  json: '[{"input", "embedding": number[], "windows"?: [{"start","end","embedding"}]} | {"input", "error"} (a file skipped)]',
  async run(ctx) {
    const files = needFiles(ctx);
    const options = embedOptions(ctx, files.length);
    const clap = await loadModel(ctx.values);
    try {
      const result = await clap.embedAudio(files, { ...options, errors: 'return' });
      const skipped = reportSkipped(ctx, result);
      if (ctx.json) {
        const shaped = result.map((r) =>
          isInputError(r)
            ? r
            : {
                input: r.input,
                embedding: Array.from(r.embedding),
                ...(r.windows
                  ? { windows: r.windows.map((w) => ({ start: w.start, end: w.end, embedding: Array.from(w.embedding) })) }
                  : {}),
              },
        );
        ctx.stdout.write(`${JSON.stringify(shaped)}\n`);
      } else {
        for (const r of result) {
          if (!isInputError(r))
            ctx.stdout.write(`${r.input}  ${preview(r.embedding)}${r.windows ? `  (${plural(r.windows.length, 'window')})` : ''}\n`);
        }
      }
      failIfStrict(ctx, skipped, files.length);
    } finally {
      await clap.release();
    }
  },
});

export const embedText = defineCommand({
  path: ['embed', 'text'],
  usage: 'embed text TEXT... --weights W',
  summary: 'Text embeddings, as msclap get_text_embeddings',
  details: 'Projected, not normalised.',
  options: { ...MODEL_OPTIONS },
  json: '[{"input", "embedding": number[]}]',
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
});
