/** Music: GTZAN genres, GTZAN music/speech, NSynth (instrument family, pitch, velocity, qualities). */
import { basename, join } from 'node:path';
import { ClapError } from '../../../errors.js';
import { readJson } from '../table.js';
import {
  audioFilesIn,
  type DatasetAdapter,
  type EvalItem,
  findRoot,
  finish,
  isDir,
  isFile,
  labelText,
  layoutError,
  pickSplit,
  requireRoot,
} from './common.js';

export const GTZAN_GENRES = ['blues', 'classical', 'country', 'disco', 'hiphop', 'jazz', 'metal', 'pop', 'reggae', 'rock'];
const GENRES_EXPECTED =
  'genres/<genre>/<genre>.000NN.au for the ten genres (blues, classical, ..., rock), as genres.tar.gz ' +
  '(the Kaggle copy genres_original/ with .wav works too)';

export const gtzanGenres: DatasetAdapter = {
  task: 'gtzan-genres',
  aliases: ['gtzan'],
  title: 'GTZAN genres',
  kind: 'multi-class',
  layout: GENRES_EXPECTED,
  load(dir, options) {
    const root = requireRoot(dir, 'GTZAN genres', (r) => GTZAN_GENRES.every((g) => isDir(join(r, g))), GENRES_EXPECTED, undefined, 3);
    const items: EvalItem[] = [];
    GTZAN_GENRES.forEach((g, i) => {
      for (const p of audioFilesIn(join(root, g))) {
        if (basename(p).startsWith(`${g}.`)) items.push({ path: p, id: basename(p), labels: [i] });
      }
    });
    return finish(
      {
        task: 'gtzan-genres',
        title: 'GTZAN genres',
        items,
        classification: { classes: GTZAN_GENRES, prompts: GTZAN_GENRES.map((g) => (g === 'hiphop' ? 'hip hop' : g)), multiLabel: false },
      },
      options,
      root,
    );
  },
};

const MS_EXPECTED = 'music_wav/ and speech_wav/ with .wav files, as music_speech.tar.gz (GTZAN music/speech collection)';

export const gtzanMusicSpeech: DatasetAdapter = {
  task: 'gtzan-music-speech',
  aliases: ['gtzan-ms'],
  title: 'GTZAN music/speech',
  kind: 'multi-class',
  layout: MS_EXPECTED,
  load(dir, options) {
    const root = requireRoot(dir, 'GTZAN music/speech', (r) => isDir(join(r, 'music_wav')) && isDir(join(r, 'speech_wav')), MS_EXPECTED);
    const classes = ['music', 'speech'];
    const items = classes.flatMap((c, i) =>
      audioFilesIn(join(root, `${c}_wav`)).map((p) => ({ path: p, id: `${c}_wav/${basename(p)}`, labels: [i] })),
    );
    return finish(
      {
        task: 'gtzan-music-speech',
        title: 'GTZAN music/speech',
        items,
        classification: { classes, prompts: classes, multiLabel: false },
      },
      options,
      root,
    );
  },
};

/** NSynth's instrument_family index order. */
export const NSYNTH_FAMILIES = ['bass', 'brass', 'flute', 'guitar', 'keyboard', 'mallet', 'organ', 'reed', 'string', 'synth_lead', 'vocal'];
/** NSynth's qualities index order. */
export const NSYNTH_QUALITIES = [
  'bright',
  'dark',
  'distortion',
  'fast_decay',
  'long_release',
  'multiphonic',
  'nonlinear_env',
  'percussive',
  'reverb',
  'tempo-synced',
];
const NOTE_NAMES = ['C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B'];
const NSYNTH_EXPECTED =
  'nsynth-test/examples.json and nsynth-test/audio/<note_str>.wav (or nsynth-valid / nsynth-train), as the NSynth json/wav release';

interface NsynthNote {
  instrument_family?: number;
  instrument_family_str?: string;
  pitch?: number;
  velocity?: number;
  qualities?: number[];
}

export function midiNoteName(pitch: number): string {
  return `${NOTE_NAMES[pitch % 12]}${Math.floor(pitch / 12) - 1}`;
}

const VELOCITY_PROMPTS: Record<number, string> = {
  25: 'a very soft note',
  50: 'a soft note',
  75: 'a moderately loud note',
  100: 'a loud note',
  127: 'a very loud note',
};

function nsynth(aspect: 'instrument' | 'pitch' | 'velocity' | 'qualities'): DatasetAdapter {
  const task = `nsynth-${aspect}`;
  const title = `NSynth ${aspect}`;
  return {
    task,
    title,
    kind: aspect === 'qualities' ? 'multi-label' : 'multi-class',
    layout: NSYNTH_EXPECTED,
    load(dir, options) {
      if (!isDir(dir)) throw new ClapError('no such folder', { subject: dir });
      const split = pickSplit(options, ['test', 'valid', 'train'], 'test', 'NSynth');
      const root =
        findRoot(dir, (r) => basename(r) === `nsynth-${split}` && isFile(join(r, 'examples.json'))) ??
        findRoot(dir, (r) => isFile(join(r, 'examples.json')) && isDir(join(r, 'audio')));
      if (!root) throw layoutError(dir, 'NSynth', NSYNTH_EXPECTED, `no nsynth-${split}/examples.json`);
      const notes = readJson(join(root, 'examples.json'), 'NSynth examples') as Record<string, NsynthNote>;
      const names = Object.keys(notes).sort();
      let classes: string[];
      let prompts: string[];
      let labelOf: (n: NsynthNote, name: string) => number[];
      const bad = (name: string, what: string): never => {
        throw new ClapError(`note '${name}' has no valid ${what}`, { subject: join(root, 'examples.json') });
      };
      if (aspect === 'instrument') {
        classes = NSYNTH_FAMILIES;
        prompts = classes.map(labelText);
        labelOf = (n, name) => {
          const i = n.instrument_family ?? (n.instrument_family_str !== undefined ? NSYNTH_FAMILIES.indexOf(n.instrument_family_str) : -1);
          return i >= 0 && i < classes.length ? [i] : bad(name, 'instrument_family');
        };
      } else if (aspect === 'pitch' || aspect === 'velocity') {
        const values = [...new Set(names.map((k) => notes[k][aspect]).filter((v): v is number => typeof v === 'number'))].sort(
          (a, b) => a - b,
        );
        classes = values.map(String);
        prompts =
          aspect === 'pitch'
            ? values.map((p) => `the musical note ${midiNoteName(p)}`)
            : values.map((v) => VELOCITY_PROMPTS[v] ?? `a note of velocity ${v}`);
        labelOf = (n, name) => (typeof n[aspect] === 'number' ? [values.indexOf(n[aspect]!)] : bad(name, aspect));
      } else {
        classes = NSYNTH_QUALITIES;
        prompts = [
          'bright',
          'dark',
          'distortion',
          'fast decay',
          'long release',
          'multiphonic',
          'nonlinear envelope',
          'percussive',
          'reverb',
          'tempo-synced',
        ];
        labelOf = (n, name) => {
          if (!Array.isArray(n.qualities) || n.qualities.length !== classes.length) bad(name, 'qualities vector');
          return n.qualities!.flatMap((q, i) => (q ? [i] : []));
        };
      }
      const items = names.map((k) => ({ path: join(root, 'audio', `${k}.wav`), id: `${k}.wav`, labels: labelOf(notes[k], k) }));
      return finish(
        {
          task,
          title,
          items,
          split,
          classification: { classes, prompts, multiLabel: aspect === 'qualities' },
          notes:
            aspect === 'pitch' || aspect === 'velocity' ? [`classes: the ${classes.length} distinct ${aspect} values of the split`] : [],
        },
        options,
        root,
      );
    },
  };
}

export const nsynthInstrument = nsynth('instrument');
export const nsynthPitch = nsynth('pitch');
export const nsynthVelocity = nsynth('velocity');
export const nsynthQualities = nsynth('qualities');
