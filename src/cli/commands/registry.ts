import type { Command } from '../command.js';
import { caption } from './caption.js';
import { classify } from './classify.js';
import { convert } from './convert.js';
import { embedAudio, embedText } from './embed.js';
import { exportOnnx } from './export.js';
import { trainContrastiveCommand, trainPlotCommand, trainProbeCommand, trainCaptionCommand, trainFinetuneCommand } from './train.js';
import { evalCommand } from './eval.js';
import { indexCommands } from './index-cmd.js';
import { queueRetryFailedCommand, queueStatsCommand } from './queue.js';
import { randomWeightsCommand } from './random-weights.js';
import { search } from './search.js';
import { serve } from './serve.js';
import { worker } from './worker.js';

/** Every `clap` subcommand, in the order `clap --help` lists them. */
export const commands: Command[] = [
  embedAudio,
  embedText,
  classify,
  caption,
  convert,
  randomWeightsCommand,
  exportOnnx,
  evalCommand,
  trainContrastiveCommand,
  trainPlotCommand,
  trainProbeCommand,
  trainCaptionCommand,
  trainFinetuneCommand,
  ...indexCommands,
  search,
  serve,
  worker,
  queueStatsCommand,
  queueRetryFailedCommand,
];
