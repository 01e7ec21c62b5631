/**
 * Cnn14's hyper-parameters (PANNs' `Cnn14` as msclap's models/audio.py builds it for the 2022 model): the
 * official sizes and the ones a checkpoint's shapes reveal.
 */
import { ClapError } from '../../errors.js';
import type { StateDict } from '../../weights/index.js';
import { requireTensor } from '../layers.js';

export interface Cnn14Config {
  /** Output channels of conv_block1..6. */
  channels: number[];
  /** fc1's output width: msclap's `out_emb`, the audio embedding the projection reads. */
  outEmb: number;
  classesNum: number;
  melBins: number;
  /** Every BatchNorm's eps. */
  bnEps: number;
}

/** msclap 2022 (`CLAP_weights_2022.pth`). */
export const CNN14_2022: Readonly<Cnn14Config> = Object.freeze({
  channels: [64, 128, 256, 512, 1024, 2048],
  outEmb: 2048,
  classesNum: 527,
  melBins: 64,
  bnEps: 1e-5,
});

/** Sizes read off a Cnn14's weights under `prefix` (`audio_encoder.base.`). */
export function inferCnn14Config(sd: StateDict, prefix: string, base: Readonly<Cnn14Config> = CNN14_2022): Cnn14Config {
  const channels: number[] = [];
  let cin = 1;
  for (let b = 1; sd.has(`${prefix}conv_block${b}.conv1.weight`); b++) {
    const key = `${prefix}conv_block${b}.conv1.weight`;
    const w = requireTensor(sd, key);
    if (w.shape.length !== 4 || w.shape[1] !== cin || w.shape[2] !== 3 || w.shape[3] !== 3) {
      throw new ClapError(`has shape [${w.shape.join(', ')}], expected [out, ${cin}, 3, 3]`, { subject: key });
    }
    channels.push(w.shape[0]);
    cin = w.shape[0];
  }
  if (channels.length !== 6) throw new ClapError(`Cnn14 has 6 conv blocks, found ${channels.length}`, { subject: `${prefix}conv_block*` });
  const fc1 = requireTensor(sd, `${prefix}fc1.weight`, [null, cin]);
  const head = requireTensor(sd, `${prefix}fc_audioset.weight`, [null, fc1.shape[0]]);
  const bn0 = requireTensor(sd, `${prefix}bn0.running_mean`);
  return { ...base, channels, outEmb: fc1.shape[0], classesNum: head.shape[0], melBins: bn0.shape[0] };
}

/** Frames msclap 2022 feeds Cnn14: 5 s at 44.1 kHz, hop 320, centred → 690. */
export const CNN14_2022_FRAMES = 690;
