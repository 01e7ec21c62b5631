import { convertToSafetensors } from '../../weights/index.js';
import { defineCommand, UsageError } from '../command.js';

export const convert = defineCommand({
  path: ['convert'],
  usage: 'convert IN.pth OUT.safetensors',
  summary: 'Re-encode a PyTorch checkpoint as safetensors',
  details: 'Reads IN (.pth or .safetensors, detected by content; no Python needed) and writes its tensors to OUT atomically.',
  options: {},
  json: '{"input","output","tensors","bytes"}',
  async run(ctx) {
    const [input, output, ...extra] = ctx.positionals;
    if (!input || !output || extra.length) throw new UsageError('convert takes IN and OUT');
    const r = await convertToSafetensors(input, output);
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ input, output, tensors: r.tensors, bytes: r.bytes })}\n`);
    else ctx.stdout.write(`${output}: ${r.tensors} tensors, ${(r.bytes / 1e6).toFixed(1)} MB\n`);
  },
});
