/** Random Cnn14 weights with msclap's key names and shapes (tests and benchmarks at any size). */
import type { HostTensor } from '../../engine/index.js';
import { randomPut } from '../random.js';
import type { Cnn14Config } from './config.js';

/**
 * Cnn14 weights under `prefix` (e.g. `audio_encoder.base.`), the frozen STFT/mel layers left out (the
 * graph does not read them). BatchNorm statistics are set so each block keeps activations at unit scale.
 */
export function randomCnn14StateDict(c: Cnn14Config, prefix: string, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  const put = randomPut(sd, prefix, seed * 1000);
  const bn = (key: string, n: number, mean: number, variance: number): void => {
    put(`${key}.weight`, [n], 0.05, 1);
    put(`${key}.bias`, [n], 0.05);
    put(`${key}.running_mean`, [n], Math.abs(mean) * 0.2 + 0.01, mean);
    put(`${key}.running_var`, [n], variance * 0.2, variance);
  };
  bn('bn0', c.melBins, -30, 300);
  let cin = 1;
  c.channels.forEach((cout, i) => {
    const b = `conv_block${i + 1}.`;
    // He-like scale: a ReLU conv with 9·cin inputs of unit variance gives outputs of variance ~1 (BN in between).
    put(`${b}conv1.weight`, [cout, cin, 3, 3], Math.sqrt(2 / (9 * cin)));
    bn(`${b}bn1`, cout, 0, 1);
    put(`${b}conv2.weight`, [cout, cout, 3, 3], Math.sqrt(2 / (9 * cout)));
    bn(`${b}bn2`, cout, 0, 1);
    cin = cout;
  });
  put('fc1.weight', [c.outEmb, cin], Math.sqrt(1 / cin));
  put('fc1.bias', [c.outEmb], 0.02);
  put('fc_audioset.weight', [c.classesNum, c.outEmb], Math.sqrt(1 / c.outEmb));
  put('fc_audioset.bias', [c.classesNum], 0.02);
  return sd;
}
