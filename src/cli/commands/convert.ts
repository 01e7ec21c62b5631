import { convertToSafetensors } from '../../weights/index.js';
import { type Command, UsageError } from '../command.js';

export const convert: Command = {
  path: ['convert'],
  usage: 'convert IN.pth OUT.safetensors',
  summary: 'Re-encode a PyTorch checkpoint (read without Python) as safetensors',
  options: {},
  help: 'Reads IN (.pth or .safetensors, detected by content) and writes its tensors to OUT atomically.\n  --json   print {"input","output","tensors","bytes"}',
  async run(ctx) {
    const [input, output, ...extra] = ctx.positionals;
    if (!input || !output || extra.length) throw new UsageError('convert takes IN and OUT');
    const r = await convertToSafetensors(input, output);
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ input, output, tensors: r.tensors, bytes: r.bytes })}\n`);
    else ctx.stdout.write(`${output}: ${r.tensors} tensors, ${(r.bytes / 1e6).toFixed(1)} MB\n`);
  },
};
