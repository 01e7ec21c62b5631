import { defineCommand, UsageError } from '../command.js';
import { loadModel, MODEL_OPTIONS } from './shared.js';

export const exportOnnx = defineCommand({
  path: ['export', 'onnx'],
  usage: 'export onnx --weights W --out DIR',
  summary: 'The audio and text towers as standalone ONNX models',
  details: 'The models run in any ONNX runtime (inputs: log-mel frames; token ids, positions, pooled index).',
  options: {
    out: { kind: 'path', arg: 'DIR', required: true, output: 'dir', help: 'folder for audio_encoder.onnx and text_encoder.onnx' },
    ...MODEL_OPTIONS,
  },
  json: '{"files": [paths]}',
  async run(ctx) {
    if (ctx.positionals.length) throw new UsageError(`unexpected argument '${ctx.positionals[0]}'`);
    const clap = await loadModel(ctx.values);
    try {
      const files = await clap.exportOnnx(ctx.values.out);
      ctx.stdout.write(ctx.json ? `${JSON.stringify({ files })}\n` : `${files.join('\n')}\n`);
    } finally {
      await clap.release();
    }
  },
});
