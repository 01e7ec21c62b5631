/** Every dataset adapter of `clap eval TASK`, in the order `clap eval list` prints them. */
import { ClapError } from '../../../errors.js';
import { audiocapsCaptions, audiocapsRetrieval, clothoCaptions, clothoRetrieval } from './captions.js';
import type { AdapterOptions, DatasetAdapter, EvalDataset } from './common.js';
import { gtzanGenres, gtzanMusicSpeech, nsynthInstrument, nsynthPitch, nsynthQualities, nsynthVelocity } from './music.js';
import { audioset, beijingOpera, dcase2017Task4, esc10, esc50, fsd50k, tut2017, us8k, vocalsound } from './sounds.js';
import { cremaD, libriCount, ravdess, speechCommands } from './speech.js';

export * from './common.js';
export { loadManifest, MANIFEST_DEFAULTS, MANIFEST_LAYOUT, PATH_COLUMNS } from './manifest.js';
export { DCASE2017_TASK4_CLASSES, TUT2017_CLASSES } from './sounds.js';
export { GTZAN_GENRES, NSYNTH_FAMILIES, NSYNTH_QUALITIES, midiNoteName } from './music.js';

export const ADAPTERS: readonly DatasetAdapter[] = [
  esc50,
  esc10,
  us8k,
  fsd50k,
  audioset,
  dcase2017Task4,
  vocalsound,
  tut2017,
  gtzanGenres,
  gtzanMusicSpeech,
  beijingOpera,
  nsynthInstrument,
  nsynthPitch,
  nsynthVelocity,
  nsynthQualities,
  cremaD,
  ravdess,
  speechCommands,
  libriCount,
  audiocapsRetrieval,
  clothoRetrieval,
  audiocapsCaptions,
  clothoCaptions,
];

export function findAdapter(task: string): DatasetAdapter | undefined {
  const t = task.toLowerCase();
  return ADAPTERS.find((a) => a.task === t || a.aliases?.includes(t));
}

/** Loads a task's dataset from its official layout under `dir`. */
export function loadDataset(task: string, dir: string, options: AdapterOptions = {}): EvalDataset {
  const adapter = findAdapter(task);
  if (!adapter) throw new ClapError(`unknown task '${task}' (tasks: ${ADAPTERS.map((a) => a.task).join(', ')}, manifest)`);
  return adapter.load(dir, options);
}
