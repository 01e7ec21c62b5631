import { DEFAULT_TEMPLATE } from '../../tasks/clap.js';
import { type Command, str } from '../command.js';
import {
  AUDIO_HELP,
  AUDIO_OPTIONS,
  audioOptions,
  intOption,
  loadModel,
  MODEL_HELP,
  MODEL_OPTIONS,
  needFiles,
  readLabels,
} from './shared.js';

export const classify: Command = {
  path: ['classify'],
  usage: 'classify FILE... --labels "a,b,c" --weights W',
  summary: 'Zero-shot classification of audio files against free-text labels',
  options: {
    ...MODEL_OPTIONS,
    ...AUDIO_OPTIONS,
    labels: { type: 'string' },
    'labels-file': { type: 'string' },
    'multi-label': { type: 'boolean' },
    template: { type: 'string' },
    top: { type: 'string' },
  },
  help: [
    '  --labels "a,b,c"   the classes (comma-separated)',
    '  --labels-file F    the classes, one per line',
    '  --multi-label      independent sigmoid per label instead of a softmax across labels',
    `  --template T       prompt; '{}' is replaced by the label, else the label is appended (default '${DEFAULT_TEMPLATE}')`,
    '  --top K            keep the K most probable labels per file, most probable first',
    MODEL_HELP,
    AUDIO_HELP,
    '  --json             [{"input", "scores": {label: probability}}]',
  ].join('\n'),
  async run(ctx) {
    const files = needFiles(ctx);
    const labels = readLabels(ctx.values);
    const top = intOption(ctx.values, 'top');
    const clap = await loadModel(ctx.values);
    try {
      const results = await clap.classify(files, labels, {
        ...audioOptions(ctx, files.length),
        multiLabel: ctx.values['multi-label'] === true,
        template: str(ctx.values, 'template'),
      });
      const shaped = results.map((r) => {
        const entries = Object.entries(r.scores);
        const kept = top === undefined ? entries : [...entries].sort((a, b) => b[1] - a[1]).slice(0, top);
        return { input: r.input, scores: Object.fromEntries(kept) };
      });
      if (ctx.json) {
        ctx.stdout.write(`${JSON.stringify(shaped)}\n`);
        return;
      }
      for (const r of shaped) {
        ctx.stdout.write(`${r.input}\n`);
        const sorted = Object.entries(r.scores).sort((a, b) => b[1] - a[1]);
        const w = Math.max(...sorted.map(([l]) => l.length));
        for (const [label, p] of sorted) ctx.stdout.write(`  ${label.padEnd(w)}  ${p.toFixed(4)}  ${'█'.repeat(Math.round(p * 20))}\n`);
      }
    } finally {
      await clap.release();
    }
  },
};
