import { type Command, num, UsageError } from '../command.js';
import { AUDIO_HELP, AUDIO_OPTIONS, audioOptions, intOption, loadModel, MODEL_HELP, MODEL_OPTIONS, needFiles } from './shared.js';

export const caption: Command = {
  path: ['caption'],
  usage: 'caption FILE... --weights clapcap.pth',
  summary: 'Describe audio files in words (clapcap: mapper + GPT-2, beam search as msclap)',
  options: {
    ...MODEL_OPTIONS,
    ...AUDIO_OPTIONS,
    beam: { type: 'string' },
    'max-tokens': { type: 'string' },
    'all-beams': { type: 'boolean' },
    strategy: { type: 'string' },
    temperature: { type: 'string' },
    'top-k': { type: 'string' },
    'top-p': { type: 'string' },
  },
  help: [
    '  --beam N           beams (default 5; 1 = greedy)',
    '  --max-tokens N     most tokens per caption (msclap entry_length, default 67)',
    '  --all-beams        list every beam with its score (mean log-probability per token)',
    "  --strategy S       'beam' (default), 'greedy' or 'sample' (with --temperature, --top-k, --top-p, --seed)",
    MODEL_HELP,
    AUDIO_HELP,
    '  --json             [{"input", "caption", "tokens": number[], "beams"?: [{"text","tokens","score"}]}]',
  ].join('\n'),
  async run(ctx) {
    const files = needFiles(ctx);
    const strategy = ctx.values.strategy as string | undefined;
    if (strategy !== undefined && !['beam', 'greedy', 'sample'].includes(strategy))
      throw new UsageError(`--strategy must be beam, greedy or sample, got '${strategy}'`);
    const clap = await loadModel(ctx.values);
    try {
      const audio = audioOptions(ctx, files.length);
      const results = await clap.caption(files, {
        ...audio,
        strategy: strategy as 'beam' | 'greedy' | 'sample' | undefined,
        beamSize: intOption(ctx.values, 'beam'),
        entryLength: intOption(ctx.values, 'max-tokens'),
        temperature: num(ctx.values, 'temperature'),
        topK: num(ctx.values, 'top-k'),
        topP: num(ctx.values, 'top-p'),
        seed: num(ctx.values, 'seed'),
      });
      const allBeams = ctx.values['all-beams'] === true;
      const shaped = results.map((r) => ({
        input: r.input,
        caption: r.caption,
        tokens: r.tokens,
        ...(allBeams && r.beams ? { beams: r.beams.map((b) => ({ text: b.text, tokens: b.tokens, score: b.score })) } : {}),
      }));
      if (ctx.json) {
        ctx.stdout.write(`${JSON.stringify(shaped)}\n`);
        return;
      }
      for (const r of shaped) {
        ctx.stdout.write(`${r.input}: ${r.caption}\n`);
        for (const b of r.beams ?? []) ctx.stdout.write(`  ${b.score.toFixed(4)}  ${JSON.stringify(b.text)}\n`);
      }
    } finally {
      await clap.release();
    }
  },
};
