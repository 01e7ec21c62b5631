import { statSync } from 'node:fs';
import { plural } from '../../errors.js';
import { convertWeights, weightFormatOfName } from '../../weights/index.js';
import { defineCommand, UsageError } from '../command.js';

/** Whether `a` and `b` name the same file (through links and `..` too); false when either does not exist. */
function sameFile(a: string, b: string): boolean {
  const [sa, sb] = [statSync(a, { throwIfNoEntry: false }), statSync(b, { throwIfNoEntry: false })];
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

export const convert = defineCommand({
  path: ['convert'],
  usage: 'convert IN OUT',
  summary: 'Re-encode weights as .pth or .safetensors',
  details:
    'Reads IN (.pth or .safetensors, detected by content; no Python needed) and writes its tensors to OUT atomically, ' +
    "in the format OUT's extension names: .safetensors, or .pth (also .pt, .bin) as msclap's checkpoints. OUT must not be IN.",
  options: {},
  json: '{"input","output","format","tensors","bytes"}',
  async run(ctx) {
    const [input, output, ...extra] = ctx.positionals;
    if (!input || !output || extra.length) throw new UsageError('convert takes IN and OUT');
    const format = weightFormatOfName(output);
    if (!format) throw new UsageError(`OUT names the format to write: end it in .safetensors or .pth (got '${output}')`);
    if (sameFile(input, output)) throw new UsageError(`OUT ${output} is IN: give another file name (IN is kept as it is)`);
    const r = await convertWeights(input, output);
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ input, output, format, tensors: r.tensors, bytes: r.bytes })}\n`);
    else ctx.stdout.write(`${output}: ${format}, ${plural(r.tensors, 'tensor')}, ${(r.bytes / 1e6).toFixed(1)} MB\n`);
  },
});
