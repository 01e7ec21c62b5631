/**
 * PANNs' `Cnn14` as msclap 2022 runs it (models/audio.py, eval mode): log-mel [B, T, mel] → bn0 over the
 * mel bins → six ConvBlocks (2×2 average pooling after blocks 1–5, none after 6) → mean over mel → max
 * over time + mean over time → fc1 → ReLU = the `embedding` msclap projects (non-negative), and
 * `clipwise_output` = sigmoid(fc_audioset(embedding)). The STFT and log-mel layers (frozen parameters in
 * the checkpoint) are the audio layer's job (audio/msclap2022.ts); they are not part of this graph.
 * The training path (`training: true`) is the same graph with every BatchNorm in training mode, as
 * PyTorch's `model.train()` runs it (batch statistics; running statistics updated, see layers.ts).
 *
 *   conv-block.ts  ConvBlock
 */
import { ClapError } from '../../errors.js';
import { type BufferUpdate, type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLinear, applyTrainingBatchNorm, batchNormAffine, f32Tensor, torchLinear, trainingBatchNorm } from '../layers.js';
import type { Cnn14Config } from './config.js';
import { convBlock, convBlockParams } from './conv-block.js';

export interface Cnn14Outputs {
  /** relu(fc1(pooled)) [B, outEmb]: the audio embedding. */
  embedding: Value;
  /** sigmoid(fc_audioset(embedding)) [B, classes]. */
  clipwise: Value;
  /**
   * The reference's intermediate tensors (parity tests): bn0 [B, T, mel], conv_block1..6 [B, C, T', M'],
   * global_pool [B, C6], fc1_linear [B, outEmb] (before the ReLU).
   */
  stages: Record<string, Value>;
  /** Training path: the BatchNorms' running statistics after this batch (the train step's buffers); else empty. */
  updates: BufferUpdate[];
}

export interface Cnn14BuildOptions {
  /** The training path (default false = inference): BatchNorms in training mode, conv weights unfolded. */
  training?: boolean;
}

/**
 * Cnn14 on `logmel` [B, T, melBins] (static T; static B too for training) with weights under `prefix`
 * (`audio_encoder.base.`).
 */
export function buildCnn14(
  g: Graph,
  logmel: Value,
  sd: StateDict,
  cfg: Cnn14Config,
  prefix: string,
  o: Cnn14BuildOptions = {},
): Cnn14Outputs {
  const M = cfg.melBins;
  if (logmel.rank !== 3 || logmel.shape[2] !== M || typeof logmel.shape[1] !== 'number') {
    throw new ClapError(`Cnn14 input must be [B, frames, ${M}] with a fixed frame count, got [${logmel.shape.join(', ')}]`);
  }
  if (cfg.channels.length !== 6) throw new ClapError(`Cnn14 has 6 conv blocks, the config lists ${cfg.channels.length}`);
  const stages: Record<string, Value> = {};
  const updates: BufferUpdate[] = [];
  const training = o.training === true;
  let bn0: Value;
  if (training) bn0 = applyTrainingBatchNorm(logmel, trainingBatchNorm(g, sd, `${prefix}bn0.`, M, cfg.bnEps), 2, updates);
  else {
    const bn = batchNormAffine(sd, `${prefix}bn0.`, M, cfg.bnEps);
    bn0 = ops.add(ops.mul(logmel, g.constant(f32Tensor([M], bn.scale), 'bn0_scale')), g.constant(f32Tensor([M], bn.shift), 'bn0_shift'));
  }
  stages.bn0 = bn0;
  let x = ops.unsqueeze(bn0, [1]); // [B, 1, T, mel]
  let cin = 1;
  cfg.channels.forEach((cout, i) => {
    x = convBlock(x, convBlockParams(g, sd, `${prefix}conv_block${i + 1}.`, cin, cout, cfg.bnEps, training), i < 5, updates);
    stages[`conv_block${i + 1}`] = x;
    cin = cout;
  });
  const overMel = ops.reduceMean(x, [3]); // [B, C, T']
  const pooled = ops.add(ops.reduceMax(overMel, [2]), ops.reduceMean(overMel, [2]));
  stages.global_pool = pooled;
  const fc1 = applyLinear(pooled, torchLinear(g, sd, `${prefix}fc1`, { inFeatures: cin, outFeatures: cfg.outEmb }));
  stages.fc1_linear = fc1;
  const embedding = ops.relu(fc1);
  const head = torchLinear(g, sd, `${prefix}fc_audioset`, { inFeatures: cfg.outEmb, outFeatures: cfg.classesNum });
  return { embedding, clipwise: ops.sigmoid(applyLinear(embedding, head)), stages, updates };
}
