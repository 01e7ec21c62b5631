import { CAPTION_DEFAULTS, CAPTION_STRATEGIES } from '../../tasks/caption/index.js';
import { defineCommand } from '../command.js';
import { ClapCap } from '../../tasks/clapcap.js';
import { isInputError } from '../../tasks/clap.js';
import { audioOptions, embedOptions, failIfStrict, MODEL_OPTIONS, needFiles, reportSkipped, STRICT_OPTION } from './shared.js';

/** Most beams: the KV cache holds beams × tokens positions per file, so memory and time grow with it. */
const MAX_BEAMS = 32;

const AUDIO_OPTIONS = audioOptions(
  "caption every 7 s window of long files too (listed with their times; the file's caption is of their mean)",
);

export const caption = defineCommand({
  path: ['caption'],
  usage: 'caption FILE... --weights clapcap.pth',
  summary: 'Describe audio in words (clapcap, beam search as msclap)',
  details: 'clapcap weights: their own audio encoder, a mapper and GPT-2.',
  options: {
    beam: { kind: 'integer', min: 1, max: MAX_BEAMS, default: CAPTION_DEFAULTS.beamSize, field: 'beamSize', help: 'beams (1 = greedy)' },
    'max-tokens': {
      kind: 'integer',
      min: 1,
      default: CAPTION_DEFAULTS.entryLength,
      field: 'entryLength',
      help: "most tokens per caption (msclap's entry_length; at most the model's positions after the prefix)",
    },
    'all-beams': { kind: 'boolean', help: 'list every beam with its score (mean log-probability per token)' },
    strategy: {
      kind: 'enum',
      choices: CAPTION_STRATEGIES,
      default: CAPTION_DEFAULTS.strategy,
      field: 'strategy',
      help: "'sample' draws tokens (with --temperature, --top-k, --top-p, --seed)",
    },
    temperature: {
      kind: 'number',
      arg: 'T',
      min: 0,
      default: CAPTION_DEFAULTS.temperature,
      field: 'temperature',
      help: 'sampling temperature (0 = most likely token); beams rank logits / T as msclap',
    },
    'top-k': {
      kind: 'integer',
      arg: 'K',
      min: 0,
      default: CAPTION_DEFAULTS.topK,
      field: 'topK',
      help: 'sampling: only the K most likely tokens (0 = all)',
    },
    'top-p': {
      kind: 'number',
      arg: 'P',
      above: 0,
      max: 1,
      default: CAPTION_DEFAULTS.topP,
      field: 'topP',
      help: 'sampling: only the most likely tokens holding probability P (1 = all)',
    },
    ...MODEL_OPTIONS,
    precision: {
      ...MODEL_OPTIONS.precision,
      help: "weights of the audio encoder and GPT-2: 'int8' = dynamic int8 MatMuls (about 2x less CPU per caption, approximate)",
    },
    ...AUDIO_OPTIONS,
    seed: { ...AUDIO_OPTIONS.seed, section: undefined, help: 'seed for --strategy sample and --crop random' },
    ...STRICT_OPTION,
  },
  json:
    '[{"input", "caption", "tokens": number[], "beams"?: [{"text","tokens","score"}], "windows"?: [{"start","end","caption","tokens"}]} ' +
    '| {"input", "error"} (a file skipped)]',
  async run(ctx) {
    const files = needFiles(ctx);
    const v = ctx.values;
    const audio = embedOptions(ctx, files.length);
    const clapcap = await ClapCap.load({ weights: v.weights, config: v.config, threads: v.threads, precision: v.precision });
    try {
      const results = await clapcap.caption(files, {
        ...audio,
        errors: 'return',
        strategy: v.strategy,
        beamSize: v.beam,
        entryLength: v['max-tokens'],
        temperature: v.temperature,
        topK: v['top-k'],
        topP: v['top-p'],
        seed: v.seed,
      });
      const skipped = reportSkipped(ctx, results);
      const allBeams = v['all-beams'];
      const shaped = results.map((r) =>
        isInputError(r)
          ? r
          : {
              input: r.input,
              caption: r.caption,
              tokens: r.tokens,
              ...(allBeams && r.beams ? { beams: r.beams.map((b) => ({ text: b.text, tokens: b.tokens, score: b.score })) } : {}),
              ...(r.windows ? { windows: r.windows } : {}),
            },
      );
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(shaped)}\n`);
      else {
        for (const r of shaped) {
          if (isInputError(r)) continue;
          ctx.stdout.write(`${r.input}: ${r.caption.trim()}\n`);
          for (const b of r.beams ?? []) ctx.stdout.write(`  ${b.score.toFixed(4)}  ${JSON.stringify(b.text)}\n`);
          for (const w of r.windows ?? []) ctx.stdout.write(`  ${w.start.toFixed(1)}–${w.end.toFixed(1)} s: ${w.caption.trim()}\n`);
        }
      }
      failIfStrict(ctx, skipped, files.length);
    } finally {
      await clapcap.release();
    }
  },
});
