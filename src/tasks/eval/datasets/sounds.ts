/**
 * Sound events, vocal sounds and acoustic scenes: ESC-50 (and ESC-10), UrbanSound8K, FSD50K,
 * AudioSet, DCASE2017 task 4, VocalSound, TUT Acoustic Scenes 2017, Beijing Opera percussion.
 * Each reads the files of the official distribution.
 */
import { basename, join } from 'node:path';
import { existsSync } from 'node:fs';
import { parseDelimited, readCsv, readJson, readText } from '../table.js';
import {
  AudioIndex,
  audioFilesIn,
  classesById,
  classIndex,
  type DatasetAdapter,
  type EvalItem,
  finish,
  isDir,
  labelText,
  layoutError,
  parseFold,
  pickSplit,
  requireRoot,
} from './common.js';

function esc(task: 'esc50' | 'esc10'): DatasetAdapter {
  const title = task === 'esc50' ? 'ESC-50' : 'ESC-10';
  const expected =
    'meta/esc50.csv (filename,fold,target,category,esc10,...) and audio/<fold>-<src>-<take>-<target>.wav, as github.com/karolpiczak/ESC-50';
  return {
    task,
    title,
    kind: 'multi-class',
    layout: expected,
    load(dir, options) {
      const root = requireRoot(dir, title, join('meta', 'esc50.csv'), expected);
      if (!isDir(join(root, 'audio'))) throw layoutError(dir, title, expected, 'no audio/ folder');
      const { rows } = readCsv(join(root, 'meta', 'esc50.csv'), ['filename', 'fold', 'target', 'category']);
      const fold = parseFold(options, [1, 2, 3, 4, 5], title);
      const chosen = rows.filter((r) => task === 'esc50' || r.esc10 === 'True');
      // class order: by target index (ESC-10 keeps its ten categories in target order)
      const classes = classesById(chosen, 'target', 'category');
      const items: EvalItem[] = chosen
        .filter((r) => fold === undefined || Number(r.fold) === fold)
        .map((r) => ({ path: join(root, 'audio', r.filename), id: r.filename, labels: [classes.indexOf(r.category)] }));
      return finish(
        {
          task,
          title,
          items,
          split: fold === undefined ? 'all folds' : `fold ${fold}`,
          classification: { classes, prompts: classes.map(labelText), multiLabel: false },
        },
        options,
        root,
      );
    },
  };
}

export const esc50 = esc('esc50');
export const esc10 = esc('esc10');

const US8K_EXPECTED =
  'metadata/UrbanSound8K.csv (slice_file_name,fsID,start,end,salience,fold,classID,class) and audio/fold<1-10>/<slice_file_name>';

export const us8k: DatasetAdapter = {
  task: 'us8k',
  aliases: ['urbansound8k'],
  title: 'UrbanSound8K',
  kind: 'multi-class',
  layout: US8K_EXPECTED,
  load(dir, options) {
    const root = requireRoot(dir, 'UrbanSound8K', join('metadata', 'UrbanSound8K.csv'), US8K_EXPECTED);
    const { rows } = readCsv(join(root, 'metadata', 'UrbanSound8K.csv'), ['slice_file_name', 'fold', 'classID', 'class']);
    const fold = parseFold(options, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'UrbanSound8K');
    const classes = classesById(rows, 'classID', 'class');
    const items = rows
      .filter((r) => fold === undefined || Number(r.fold) === fold)
      .map((r) => ({
        path: join(root, 'audio', `fold${r.fold}`, r.slice_file_name),
        id: r.slice_file_name,
        labels: [classes.indexOf(r.class)],
      }));
    return finish(
      {
        task: 'us8k',
        title: 'UrbanSound8K',
        items,
        split: fold === undefined ? 'all folds' : `fold ${fold}`,
        classification: { classes, prompts: classes.map(labelText), multiLabel: false },
      },
      options,
      root,
    );
  },
};

const FSD_EXPECTED = 'FSD50K.ground_truth/{vocabulary.csv,eval.csv,dev.csv} and FSD50K.eval_audio/<fname>.wav (FSD50K.dev_audio for dev)';

export const fsd50k: DatasetAdapter = {
  task: 'fsd50k',
  title: 'FSD50K',
  kind: 'multi-label',
  layout: FSD_EXPECTED,
  load(dir, options) {
    const root = requireRoot(dir, 'FSD50K', join('FSD50K.ground_truth', 'vocabulary.csv'), FSD_EXPECTED);
    const split = pickSplit(options, ['eval', 'dev', 'train', 'val'], 'eval', 'FSD50K');
    const gt = join(root, 'FSD50K.ground_truth');
    // vocabulary.csv has no header: index,label,mid
    const vocab = parseDelimited(readText(join(gt, 'vocabulary.csv'), 'FSD50K vocabulary')).filter(
      (r) => r.length >= 2 && /^\d+$/.test(r[0].trim()),
    );
    if (vocab.length === 0) throw layoutError(dir, 'FSD50K', FSD_EXPECTED, 'vocabulary.csv has no index,label,mid rows');
    vocab.sort((a, b) => Number(a[0]) - Number(b[0]));
    const classes = vocab.map((r) => r[1].trim());
    const file = split === 'eval' ? 'eval.csv' : 'dev.csv';
    if (!existsSync(join(gt, file))) throw layoutError(dir, 'FSD50K', FSD_EXPECTED, `no FSD50K.ground_truth/${file}`);
    const { rows } = readCsv(join(gt, file), ['fname', 'labels']);
    const audioDir = join(root, split === 'eval' ? 'FSD50K.eval_audio' : 'FSD50K.dev_audio');
    if (!isDir(audioDir)) throw layoutError(dir, 'FSD50K', FSD_EXPECTED, `no ${basename(audioDir)}/ folder`);
    const items = rows
      .filter((r) => split === 'eval' || split === 'dev' || r.split === split)
      .map((r) => ({
        path: join(audioDir, `${r.fname}.wav`),
        id: `${r.fname}.wav`,
        labels: r.labels.split(',').map((l) => classIndex(classes, l.trim(), `${file} ${r.fname}`)),
      }));
    return finish(
      {
        task: 'fsd50k',
        title: 'FSD50K',
        items,
        split,
        classification: { classes, prompts: classes.map(labelText), multiLabel: true },
      },
      options,
      root,
    );
  },
};

const AS_EXPECTED =
  'class_labels_indices.csv (index,mid,display_name), eval_segments.csv (YTID, start_seconds, end_seconds, positive_labels) ' +
  'and the clips as <YTID>.wav or Y<YTID>.wav (any audio extension) anywhere below';

export const audioset: DatasetAdapter = {
  task: 'audioset',
  title: 'AudioSet',
  kind: 'multi-label',
  layout: AS_EXPECTED,
  load(dir, options) {
    const root = requireRoot(dir, 'AudioSet', 'class_labels_indices.csv', AS_EXPECTED);
    const split = pickSplit(options, ['eval', 'balanced_train', 'unbalanced_train'], 'eval', 'AudioSet');
    const { rows: cls } = readCsv(join(root, 'class_labels_indices.csv'), ['index', 'mid', 'display_name']);
    cls.sort((a, b) => Number(a.index) - Number(b.index));
    const classes = cls.map((r) => r.display_name);
    const mids = cls.map((r) => r.mid);
    const segFile = join(root, `${split}_segments.csv`);
    if (!existsSync(segFile)) throw layoutError(dir, 'AudioSet', AS_EXPECTED, `no ${split}_segments.csv`);
    // '# YTID, start_seconds, end_seconds, positive_labels' header lines, quoted label lists
    const rows = parseDelimited(readText(segFile, 'AudioSet segments')).filter((r) => !r[0].startsWith('#'));
    const index = new AudioIndex(dir); // the clips may sit beside the metadata folder
    const items: EvalItem[] = rows.map((r) => {
      const [ytid, start, end] = r.map((x) => x.trim());
      const labels = r
        .slice(3)
        .join(',')
        .split(',')
        .map((m) => m.trim())
        .filter(Boolean)
        .map((m) => classIndex(mids, m, `${split}_segments.csv ${ytid}`));
      const s = Number(start).toFixed(3),
        e = Number(end).toFixed(3);
      const found = index.find([ytid, `${ytid}_${s}_${e}`, `${ytid}_${Number(start)}_${Number(end)}`, `${ytid}_${Number(start)}`]);
      return { path: found ?? join(root, `Y${ytid}.wav`), id: ytid, labels };
    });
    return finish(
      {
        task: 'audioset',
        title: 'AudioSet',
        items,
        split,
        classification: { classes, prompts: classes, multiLabel: true },
      },
      options,
      root,
    );
  },
};

/** DCASE2017 task 4 classes, in the order of the task description. */
export const DCASE2017_TASK4_CLASSES = [
  'Train horn',
  'Air horn, truck horn',
  'Car alarm',
  'Reversing beeps',
  'Ambulance (siren)',
  'Police car (siren)',
  'Fire engine, fire truck (siren)',
  'Civil defense siren',
  'Screaming',
  'Bicycle',
  'Skateboard',
  'Car',
  'Car passing by',
  'Bus',
  'Truck',
  'Motorcycle',
  'Train',
];
const DCASE17_EXPECTED =
  'groundtruth_weak_label_evaluation_set.csv (or ..._testing_set.csv; tab-separated <YTID>_<start>_<end>, start, end, label) ' +
  'and the clips as Y<YTID>_<start>_<end>.wav (or without Y) anywhere below';

export const dcase2017Task4: DatasetAdapter = {
  task: 'dcase2017-task4',
  aliases: ['dcase17-t4', 'dcase2017'],
  title: 'DCASE2017 task 4',
  kind: 'multi-label',
  layout: DCASE17_EXPECTED,
  load(dir, options) {
    const split = pickSplit(options, ['evaluation', 'testing'], 'evaluation', 'DCASE2017 task 4');
    const file = `groundtruth_weak_label_${split}_set.csv`;
    const root = requireRoot(dir, 'DCASE2017 task 4', file, DCASE17_EXPECTED);
    const rows = parseDelimited(readText(join(root, file), 'DCASE2017 ground truth'), '\t').filter((r) => r.length >= 4);
    const index = new AudioIndex(dir); // the clips may sit beside the metadata folder
    const byClip = new Map<string, Set<number>>();
    for (const r of rows) {
      const name = r[0].trim().replace(/\.wav$/, '');
      const c = classIndex(DCASE2017_TASK4_CLASSES, r[3].trim(), `${file} ${name}`);
      if (!byClip.has(name)) byClip.set(name, new Set());
      byClip.get(name)!.add(c);
    }
    const items = [...byClip.entries()].map(([name, labels]) => ({
      path: index.find([name, `Y${name}`]) ?? join(root, `Y${name}.wav`),
      id: name,
      labels: [...labels].sort((a, b) => a - b),
    }));
    return finish(
      {
        task: 'dcase2017-task4',
        title: 'DCASE2017 task 4',
        items,
        split,
        classification: { classes: DCASE2017_TASK4_CLASSES, prompts: DCASE2017_TASK4_CLASSES, multiLabel: true },
      },
      options,
      root,
    );
  },
};

const VS_CLASSES = ['laughter', 'sigh', 'cough', 'throatclearing', 'sneeze', 'sniff'];
const VS_EXPECTED =
  'audio_16k/ or audio_44k/ with <spk>_<n>_<class>.wav (class: laughter, sigh, cough, throatclearing, sneeze, sniff) ' +
  'and datafiles/te.json (test split), as the VocalSound release';

export const vocalsound: DatasetAdapter = {
  task: 'vocalsound',
  title: 'VocalSound',
  kind: 'multi-class',
  layout: VS_EXPECTED,
  load(dir, options) {
    const root = requireRoot(
      dir,
      'VocalSound',
      (r) => isDir(join(r, 'audio_44k')) || isDir(join(r, 'audio_16k')),
      VS_EXPECTED,
      'no audio_16k/ or audio_44k/ folder',
    );
    const audioDir = isDir(join(root, 'audio_44k')) ? join(root, 'audio_44k') : join(root, 'audio_16k');
    const split = pickSplit(options, ['test', 'validation', 'train', 'all'], 'test', 'VocalSound');
    let names: string[];
    if (split === 'all') {
      names = audioFilesIn(audioDir).map((p) => basename(p));
    } else {
      const json = join(root, 'datafiles', { test: 'te.json', validation: 'val.json', train: 'tr.json' }[split]!);
      if (!existsSync(json))
        throw layoutError(dir, 'VocalSound', VS_EXPECTED, `no datafiles/${basename(json)} (use --split all to evaluate every clip)`);
      const data = readJson(json, 'VocalSound datafile') as { data?: { wav?: string }[] };
      names = (data.data ?? []).map((d) => basename(String(d.wav ?? '')));
    }
    const items = names.map((n) => {
      const m = /_([a-z]+)\.[a-z0-9]+$/i.exec(n);
      return { path: join(audioDir, n), id: n, labels: [classIndex(VS_CLASSES, m ? m[1].toLowerCase() : n, n)] };
    });
    return finish(
      {
        task: 'vocalsound',
        title: 'VocalSound',
        items,
        split,
        classification: {
          classes: VS_CLASSES,
          prompts: ['laughter', 'sigh', 'cough', 'throat clearing', 'sneeze', 'sniff'],
          multiLabel: false,
        },
      },
      options,
      root,
    );
  },
};

export const TUT2017_CLASSES = [
  'beach',
  'bus',
  'cafe/restaurant',
  'car',
  'city_center',
  'forest_path',
  'grocery_store',
  'home',
  'library',
  'metro_station',
  'office',
  'park',
  'residential_area',
  'train',
  'tram',
];
const TUT_EXPECTED =
  'meta.txt or evaluation_setup/evaluate.txt (tab-separated audio/<file>.wav, scene label) and audio/, ' +
  'as TUT-acoustic-scenes-2017-evaluation with its .meta.zip (or -development, with evaluation_setup/fold<N>_evaluate.txt for --fold)';

export const tut2017: DatasetAdapter = {
  task: 'tut2017',
  title: 'TUT Acoustic Scenes 2017',
  kind: 'multi-class',
  layout: TUT_EXPECTED,
  load(dir, options) {
    const evaluate = join('evaluation_setup', 'evaluate.txt');
    const root = requireRoot(
      dir,
      'TUT Acoustic Scenes 2017',
      (r) => existsSync(join(r, 'meta.txt')) || existsSync(join(r, evaluate)),
      TUT_EXPECTED,
      'no meta.txt',
    );
    const fold = parseFold(options, [1, 2, 3, 4], 'TUT Acoustic Scenes 2017 development');
    const rel =
      fold !== undefined
        ? join('evaluation_setup', `fold${fold}_evaluate.txt`)
        : existsSync(join(root, 'meta.txt'))
          ? 'meta.txt'
          : evaluate;
    const list = join(root, rel);
    if (!existsSync(list)) throw layoutError(dir, 'TUT Acoustic Scenes 2017', TUT_EXPECTED, `no ${rel}`);
    const rows = parseDelimited(readText(list, 'TUT2017 list'), '\t').filter((r) => r.length >= 2 && r[0].trim());
    const items = rows.map((r) => ({
      path: join(root, r[0].trim()),
      id: basename(r[0].trim()),
      labels: [classIndex(TUT2017_CLASSES, r[1].trim(), `${basename(list)} ${r[0]}`)],
    }));
    return finish(
      {
        task: 'tut2017',
        title: 'TUT Acoustic Scenes 2017',
        items,
        split: fold === undefined ? rel : `fold ${fold} evaluate`,
        classification: {
          classes: TUT2017_CLASSES,
          prompts: TUT2017_CLASSES.map((c) => labelText(c).replace('/', ' or ')),
          multiLabel: false,
        },
      },
      options,
      root,
    );
  },
};

const BO_CLASSES = ['bangu', 'daluo', 'naobo', 'xiaoluo'];
const BO_EXPECTED =
  'one folder per instrument: bangu/, daluo/, naobo/, xiaoluo/ with .wav files (Beijing Opera Percussion Instrument dataset)';

export const beijingOpera: DatasetAdapter = {
  task: 'beijing-opera',
  title: 'Beijing Opera percussion',
  kind: 'multi-class',
  layout: BO_EXPECTED,
  load(dir, options) {
    const root = requireRoot(dir, 'Beijing Opera percussion', (r) => BO_CLASSES.every((c) => isDir(join(r, c))), BO_EXPECTED);
    const items = BO_CLASSES.flatMap((c, i) =>
      audioFilesIn(join(root, c)).map((p) => ({ path: p, id: `${c}/${basename(p)}`, labels: [i] })),
    );
    return finish(
      {
        task: 'beijing-opera',
        title: 'Beijing Opera percussion',
        items,
        classification: {
          classes: BO_CLASSES,
          prompts: ['bangu clapper drum', 'daluo large gong', 'naobo cymbals', 'xiaoluo small gong'],
          multiLabel: false,
        },
      },
      options,
      root,
    );
  },
};
