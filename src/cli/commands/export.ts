import { type Command, required, UsageError } from '../command.js';
import { loadModel, MODEL_HELP, MODEL_OPTIONS } from './shared.js';

export const exportOnnx: Command = {
  path: ['export', 'onnx'],
  usage: 'export onnx --weights W --out DIR',
  summary: 'Write the audio and text towers as standalone ONNX models for any ONNX runtime',
  options: { ...MODEL_OPTIONS, out: { type: 'string' } },
  help: `  --out DIR          folder for audio_encoder.onnx and text_encoder.onnx\n${MODEL_HELP}\n  --json             {"files": [paths]}`,
  async run(ctx) {
    if (ctx.positionals.length) throw new UsageError(`unexpected argument '${ctx.positionals[0]}'`);
    const out = required(ctx.values, 'out');
    const clap = await loadModel(ctx.values);
    try {
      const files = await clap.exportOnnx(out);
      ctx.stdout.write(ctx.json ? `${JSON.stringify({ files })}\n` : `${files.join('\n')}\n`);
    } finally {
      await clap.release();
    }
  },
};
