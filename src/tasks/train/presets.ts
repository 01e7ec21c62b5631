/**
 * Model sizes for training. '2023' is the official release's geometry; 'small' (~4.6M parameters,
 * 3.2M of them GPT-2's 50257-row token table) learns on a laptop CPU; 'tiny' is for tests. All take
 * msclap's input: 7 s at 44.1 kHz → log-mel [965, 64] → 256×256 image; the small ones use bigger patches.
 */
import { readFileSync } from 'node:fs';
import { ClapError } from '../../errors.js';
import { CLAP_2023, CLAP_PRESETS, type ClapConfig, clapConfigFromJson } from '../../models/clap/index.js';
import { HTSAT_2023 } from '../../models/htsat/index.js';

export const TRAIN_PRESETS: Record<string, Readonly<ClapConfig>> = {
  ...CLAP_PRESETS,
  small: {
    ...CLAP_2023,
    htsat: { ...HTSAT_2023, patchSize: 8, embedDim: 32, depths: [2, 2, 2], numHeads: [2, 4, 8], windowSize: 8 },
    text: { vocabSize: 50257, nPositions: 128, nEmbd: 64, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 },
    dProj: 128,
  },
  tiny: {
    ...CLAP_2023,
    htsat: { ...HTSAT_2023, patchSize: 16, embedDim: 16, depths: [1, 2], numHeads: [1, 2], windowSize: 4, numClasses: 8 },
    text: { vocabSize: 50257, nPositions: 128, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 },
    dProj: 32,
  },
};

/** A preset name or a config.json path. */
export function resolveTrainConfig(arg: string | undefined, fallback = 'small'): ClapConfig {
  const name = arg ?? fallback;
  const preset = TRAIN_PRESETS[name];
  if (preset) return { ...preset };
  let text: string;
  try {
    text = readFileSync(name, 'utf8');
  } catch (e) {
    throw new ClapError(
      `not a preset (${Object.keys(TRAIN_PRESETS).join(', ')}) and not readable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      { subject: name },
    );
  }
  try {
    return clapConfigFromJson(JSON.parse(text) as Record<string, unknown>);
  } catch (e) {
    throw new ClapError(e instanceof ClapError ? e.message : `not valid JSON (${(e as Error).message})`, { subject: name });
  }
}
