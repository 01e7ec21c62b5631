import { MIN_OPSET, OPSET } from '../../engine/index.js';
import { defineCommand, UsageError } from '../command.js';
import { loadModel, MODEL_OPTIONS } from './shared.js';

export const exportOnnx = defineCommand({
  path: ['export', 'onnx'],
  usage: 'export onnx --weights W --out DIR',
  summary: 'The model as standalone ONNX files, described by clap-export.json (for onnxruntime-web, Python, …)',
  details:
    "msclap's audio model takes mono windows at 44.1 kHz (7 s for 2023, 5 s for 2022; its log-mel frontend is in the graph); " +
    "a Hugging Face CLAP audio model takes ClapFeatureExtractor's input_features (and is_longer), the extractor described in " +
    'clap-export.json. The text model takes the ids and attention mask of tokenizer.json and finds its pooled token itself ' +
    '(msclap 2023: by --text-pooling); clap-export.json states inputs, outputs, the frontend, the tokenizer rule and the prompt template.',
  options: {
    out: {
      kind: 'path',
      arg: 'DIR',
      required: true,
      output: 'dir',
      help: 'folder for audio_encoder.onnx, text_encoder.onnx, tokenizer.json and clap-export.json',
    },
    opset: {
      kind: 'integer',
      arg: 'N',
      min: MIN_OPSET,
      max: OPSET,
      default: OPSET,
      help: 'ONNX opset; the IR version follows it (17: IR 8, readable by older tools such as Debian 12 onnx 1.12)',
    },
    logmel: {
      kind: 'boolean',
      help: 'msclap: also write audio_encoder_logmel.onnx, which takes the log-mel (2023: 965×64) instead of the waveform',
    },
    ...MODEL_OPTIONS,
  },
  json: '{"files": [paths]}',
  async run(ctx) {
    if (ctx.positionals.length) throw new UsageError(`unexpected argument '${ctx.positionals[0]}'`);
    const clap = await loadModel(ctx.values);
    try {
      const files = await clap.exportOnnx(ctx.values.out, { opset: ctx.values.opset, logmel: ctx.values.logmel });
      ctx.stdout.write(ctx.json ? `${JSON.stringify({ files })}\n` : `${files.join('\n')}\n`);
    } finally {
      await clap.release();
    }
  },
});
