import { DEFAULT_TEMPLATE, isInputError } from '../../tasks/clap.js';
import { defineCommand } from '../command.js';
import {
  AUDIO_OPTIONS,
  embedOptions,
  failIfStrict,
  LABEL_OPTIONS,
  loadModel,
  MODEL_OPTIONS,
  needFiles,
  readLabels,
  reportSkipped,
  STRICT_OPTION,
} from './shared.js';

export const classify = defineCommand({
  path: ['classify'],
  usage: 'classify FILE... --labels "a,b,c" --weights W',
  summary: 'Zero-shot classification against free-text labels',
  options: {
    ...LABEL_OPTIONS,
    'multi-label': { kind: 'boolean', help: 'independent sigmoid per label instead of a softmax across labels' },
    template: {
      kind: 'string',
      arg: 'T',
      default: DEFAULT_TEMPLATE,
      help: "prompt; '{}' is replaced by the label, else the label is appended",
    },
    top: { kind: 'integer', arg: 'K', min: 1, help: 'keep the K most probable labels per file, most probable first' },
    ...MODEL_OPTIONS,
    ...AUDIO_OPTIONS,
    ...STRICT_OPTION,
  },
  json: '[{"input", "scores": {label: probability}} | {"input", "error"} (a file skipped)]',
  async run(ctx) {
    const files = needFiles(ctx);
    const labels = readLabels(ctx.values);
    const top = ctx.values.top;
    const options = embedOptions(ctx, files.length);
    const clap = await loadModel(ctx.values);
    try {
      const results = await clap.classify(files, labels, {
        ...options,
        errors: 'return',
        multiLabel: ctx.values['multi-label'],
        template: ctx.values.template,
      });
      const skipped = reportSkipped(ctx, results);
      const shaped = results.map((r) => {
        if (isInputError(r)) return r;
        const entries = Object.entries(r.scores);
        const kept = top === undefined ? entries : [...entries].sort((a, b) => b[1] - a[1]).slice(0, top);
        return { input: r.input, scores: Object.fromEntries(kept) };
      });
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(shaped)}\n`);
      else {
        for (const r of shaped) {
          if (isInputError(r)) continue;
          ctx.stdout.write(`${r.input}\n`);
          const sorted = Object.entries(r.scores).sort((a, b) => b[1] - a[1]);
          const w = Math.max(...sorted.map(([l]) => l.length));
          for (const [label, p] of sorted) ctx.stdout.write(`  ${label.padEnd(w)}  ${p.toFixed(4)}  ${'█'.repeat(Math.round(p * 20))}\n`);
        }
      }
      failIfStrict(ctx, skipped, files.length);
    } finally {
      await clap.release();
    }
  },
});
