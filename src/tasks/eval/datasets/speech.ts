/** Speech: CREMA-D and RAVDESS (emotion), Speech Commands (keywords), LibriCount (speaker count). */
import { basename, dirname, extname, join } from 'node:path';
import { existsSync } from 'node:fs';
import { ClapError } from '../../../errors.js';
import { readJson, readText } from '../table.js';
import {
  audioFilesIn,
  audioFilesUnder,
  type DatasetAdapter,
  type EvalItem,
  findRoot,
  finish,
  isDir,
  layoutError,
  pickSplit,
  requireRoot,
} from './common.js';

const CREMA_CODES = ['ANG', 'DIS', 'FEA', 'HAP', 'NEU', 'SAD'];
const CREMA_CLASSES = ['anger', 'disgust', 'fear', 'happy', 'neutral', 'sad'];
const CREMA_EXPECTED =
  'AudioWAV/<actor>_<sentence>_<EMOTION>_<level>.wav (EMOTION: ANG, DIS, FEA, HAP, NEU, SAD), as the CREMA-D repository';

export const cremaD: DatasetAdapter = {
  task: 'crema-d',
  aliases: ['cremad'],
  title: 'CREMA-D',
  kind: 'multi-class',
  layout: CREMA_EXPECTED,
  load(dir, options) {
    if (!isDir(dir)) throw new ClapError('no such folder', { subject: dir });
    const pattern = /^\d{4}_[A-Z]{3}_([A-Z]{3})_[A-Z]{2}\.wav$/;
    const root = findRoot(dir, 'AudioWAV') ?? findRoot(dir, (r) => audioFilesIn(r).some((p) => pattern.test(basename(p))));
    if (!root) throw layoutError(dir, 'CREMA-D', CREMA_EXPECTED);
    const audioDir = isDir(join(root, 'AudioWAV')) ? join(root, 'AudioWAV') : root;
    const items: EvalItem[] = [];
    for (const p of audioFilesIn(audioDir)) {
      const m = pattern.exec(basename(p));
      if (m && CREMA_CODES.includes(m[1])) items.push({ path: p, id: basename(p), labels: [CREMA_CODES.indexOf(m[1])] });
    }
    return finish(
      {
        task: 'crema-d',
        title: 'CREMA-D',
        items,
        classification: { classes: CREMA_CLASSES, prompts: CREMA_CLASSES, multiLabel: false },
      },
      options,
      root,
    );
  },
};

/** RAVDESS emotion codes 01–08. */
const RAVDESS_CLASSES = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'];
const RAVDESS_EXPECTED =
  'Actor_<NN>/03-<channel>-<emotion>-<intensity>-<statement>-<repetition>-<actor>.wav (audio-only files, modality 03), ' +
  'as Audio_Speech_Actors_01-24.zip / Audio_Song_Actors_01-24.zip';

export const ravdess: DatasetAdapter = {
  task: 'ravdess',
  title: 'RAVDESS',
  kind: 'multi-class',
  layout: RAVDESS_EXPECTED,
  load(dir, options) {
    if (!isDir(dir)) throw new ClapError('no such folder', { subject: dir });
    const split = pickSplit(options, ['all', 'speech', 'song'], 'all', 'RAVDESS');
    const pattern = /^03-(0[12])-(0[1-8])-0[12]-0[12]-0[12]-\d\d\.wav$/;
    const items: EvalItem[] = [];
    for (const p of audioFilesUnder(dir, 3)) {
      const m = pattern.exec(basename(p));
      if (!m || !/^Actor_\d\d$/.test(basename(dirname(p)))) continue;
      if ((split === 'speech' && m[1] !== '01') || (split === 'song' && m[1] !== '02')) continue;
      items.push({ path: p, id: basename(p), labels: [Number(m[2]) - 1] });
    }
    if (items.length === 0) throw layoutError(dir, 'RAVDESS', RAVDESS_EXPECTED, 'no audio-only Actor_NN/03-*.wav files');
    return finish(
      {
        task: 'ravdess',
        title: 'RAVDESS',
        items,
        split: split === 'all' ? 'speech and song' : split,
        classification: { classes: RAVDESS_CLASSES, prompts: RAVDESS_CLASSES, multiLabel: false },
      },
      options,
      dir,
    );
  },
};

const SC_EXPECTED =
  'testing_list.txt, validation_list.txt and one folder per word (<word>/<speaker>_nohash_<n>.wav), as speech_commands_v0.02.tar.gz';

export const speechCommands: DatasetAdapter = {
  task: 'speech-commands',
  aliases: ['speechcommands', 'sc'],
  title: 'Speech Commands',
  kind: 'multi-class',
  layout: SC_EXPECTED,
  load(dir, options) {
    const root = requireRoot(dir, 'Speech Commands', 'testing_list.txt', SC_EXPECTED);
    const split = pickSplit(options, ['test', 'validation'], 'test', 'Speech Commands');
    const list = join(root, split === 'test' ? 'testing_list.txt' : 'validation_list.txt');
    if (!existsSync(list)) throw layoutError(dir, 'Speech Commands', SC_EXPECTED, `no ${basename(list)}`);
    const entries = readText(list, 'Speech Commands list')
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter(Boolean);
    const classes = [...new Set(entries.map((e) => e.split('/')[0]))].filter((w) => !w.startsWith('_')).sort();
    const items = entries
      .filter((e) => classes.includes(e.split('/')[0]))
      .map((e) => ({ path: join(root, e), id: e, labels: [classes.indexOf(e.split('/')[0])] }));
    return finish(
      {
        task: 'speech-commands',
        title: 'Speech Commands',
        items,
        split,
        classification: { classes, prompts: classes, multiLabel: false },
        notes: [`classes: the ${classes.length} words in ${basename(list)}`],
      },
      options,
      root,
    );
  },
};

const COUNT_WORDS = [
  'no one',
  'one person',
  'two people',
  'three people',
  'four people',
  'five people',
  'six people',
  'seven people',
  'eight people',
  'nine people',
  'ten people',
];
const LC_EXPECTED = 'test/<count>_<id>.wav with a <count>_<id>.json speaker list beside each, as LibriCount10-0dB.zip';

export const libriCount: DatasetAdapter = {
  task: 'libricount',
  title: 'LibriCount',
  kind: 'multi-class',
  layout: LC_EXPECTED,
  load(dir, options) {
    const root = requireRoot(
      dir,
      'LibriCount',
      (r) => isDir(join(r, 'test')) && audioFilesIn(join(r, 'test')).some((p) => /^\d+_/.test(basename(p))),
      LC_EXPECTED,
    );
    const items: EvalItem[] = [];
    for (const p of audioFilesIn(join(root, 'test'))) {
      const json = join(dirname(p), `${basename(p, extname(p))}.json`);
      let count: number | undefined;
      if (existsSync(json)) {
        const meta = readJson(json, 'LibriCount metadata');
        if (Array.isArray(meta)) count = meta.length;
      }
      count ??= /^(\d+)_/.exec(basename(p)) ? Number(/^(\d+)_/.exec(basename(p))![1]) : undefined;
      if (count === undefined || count > 10) continue;
      items.push({ path: p, id: basename(p), labels: [count] });
    }
    return finish(
      {
        task: 'libricount',
        title: 'LibriCount',
        items,
        split: 'test',
        classification: {
          classes: COUNT_WORDS.map((_, i) => String(i)),
          prompts: COUNT_WORDS.map((w) => `${w} speaking`),
          multiLabel: false,
        },
      },
      options,
      root,
    );
  },
};
