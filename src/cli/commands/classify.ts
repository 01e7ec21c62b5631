import { ClapError } from '../../errors.js';
import { type Clap, type Classification, DEFAULT_TEMPLATE, HF_TEMPLATE, type InputError, isInputError } from '../../tasks/clap.js';
import { headProbabilities, loadLinearHead } from '../../tasks/train/index.js';
import { defineCommand, UsageError } from '../command.js';
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
  details: 'With --head, the classes are those of a trained classifier head (clap train probe or finetune) instead of text labels.',
  summary: 'Zero-shot classification against free-text labels',
  options: {
    ...LABEL_OPTIONS,
    head: {
      kind: 'path',
      arg: 'FILE',
      help:
        'a trained classifier head (probe.safetensors of clap train probe, classifier.safetensors of clap train finetune): ' +
        'its classes instead of --labels',
    },
    'multi-label': { kind: 'boolean', help: 'independent sigmoid per label instead of a softmax across labels' },
    template: {
      kind: 'string',
      arg: 'T',
      help: "prompt; '{}' is replaced by the label, else the label is appended",
      defaultText: `the family's reference: '${DEFAULT_TEMPLATE}' (msclap), '${HF_TEMPLATE}' (Hugging Face)`,
    },
    top: { kind: 'integer', arg: 'K', min: 1, help: 'keep the K most probable labels per file, most probable first' },
    ...MODEL_OPTIONS,
    ...AUDIO_OPTIONS,
    ...STRICT_OPTION,
  },
  json: '[{"input", "scores": {label: probability}} | {"input", "error"} (a file skipped)]',
  async run(ctx) {
    const files = needFiles(ctx);
    const v = ctx.values;
    if (v.head !== undefined && (v.labels !== undefined || v['labels-file'] !== undefined))
      throw new UsageError('--head brings its own classes: leave out --labels / --labels-file');
    if (v.head !== undefined && v['multi-label'])
      throw new UsageError('--multi-label is for text labels; a --head is one softmax over its classes');
    const labels = v.head === undefined ? readLabels(v) : [];
    const top = ctx.values.top;
    const options = embedOptions(ctx, files.length);
    const clap = await loadModel(ctx.values);
    try {
      const results =
        v.head === undefined
          ? await clap.classify(files, labels, { ...options, errors: 'return', multiLabel: v['multi-label'], template: v.template })
          : await classifyWithHead(clap, files, v.head, options);
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

/** Each file's probabilities under a trained head (its classes; the L2-normalised audio embedding in). */
async function classifyWithHead(
  clap: Clap,
  files: string[],
  headFile: string,
  options: ReturnType<typeof embedOptions>,
): Promise<(Classification | InputError)[]> {
  const { head, labels } = await loadLinearHead(headFile);
  if (head.dim !== clap.config.dProj)
    throw new ClapError(`takes ${head.dim}-value embeddings, but these weights make ${clap.config.dProj}-value ones`, {
      subject: headFile,
    });
  const embedded = await clap.embedAudio(files, { ...options, errors: 'return' });
  return embedded.map((e) => {
    if (isInputError(e)) return e;
    const p = headProbabilities(head, e.embedding);
    return { input: e.input, scores: Object.fromEntries(labels.map((l, i) => [l, p[i]])) };
  });
}
