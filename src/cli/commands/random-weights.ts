import { RANDOM_MODELS, RANDOM_SIZES, RANDOM_WEIGHTS_DEFAULTS, writeRandomWeights } from '../../tasks/random-weights.js';
import { defineCommand, UsageError } from '../command.js';

export const randomWeightsCommand = defineCommand({
  path: ['random-weights'],
  usage: 'random-weights --model M --out PATH',
  summary: 'Write random weights in an official layout, to try every command without the real ones',
  details:
    "The numbers are noise, the layout and (with --size full) the shapes and speed are the release's: " +
    "'2023' and 'clapcap' write a .pth as CLAP_weights_2023.pth and clapcap_weights_2023.pth; '2022' a .pth as " +
    'CLAP_weights_2022.pth with a tokenizer/ folder beside it; laion-unfused and laion-fused a Hugging Face model ' +
    'folder as laion/clap-htsat-unfused and -fused. The tokenizers written are minimal (specials, characters, ' +
    'bytes). Give PATH to --weights.',
  options: {
    model: { kind: 'enum', choices: RANDOM_MODELS, required: true, help: 'the release whose layout to write' },
    out: { kind: 'path', arg: 'PATH', required: true, help: 'the .pth to write, or the folder for laion-*; never overwritten' },
    size: { kind: 'enum', choices: RANDOM_SIZES, default: RANDOM_WEIGHTS_DEFAULTS.size, help: "'tiny': small widths, for tests" },
    seed: {
      kind: 'integer',
      min: 0,
      max: 2 ** 31 - 1,
      default: RANDOM_WEIGHTS_DEFAULTS.seed,
      help: 'the same seed writes the same numbers',
    },
  },
  json: '{"model","size","weights","files","tensors"}',
  async run(ctx) {
    if (ctx.positionals.length) throw new UsageError(`random-weights takes no positional arguments, got '${ctx.positionals[0]}'`);
    const { model, out } = ctx.values;
    const size = ctx.values.size ?? RANDOM_WEIGHTS_DEFAULTS.size;
    const seed = ctx.values.seed ?? RANDOM_WEIGHTS_DEFAULTS.seed;
    const r = await writeRandomWeights(out, { model, size, seed });
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ model, size, weights: r.weights, files: r.files, tensors: r.tensors })}\n`);
    else ctx.stdout.write(`${r.weights}: random ${model} weights (${size}, seed ${seed}, ${r.tensors} tensors); give it to --weights\n`);
  },
});
