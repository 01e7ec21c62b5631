/** Captioned audio: AudioCaps and Clotho, for retrieval (both directions) and for caption scoring. */
import { join } from 'node:path';
import { readCsv } from '../table.js';
import { AudioIndex, type DatasetAdapter, type EvalItem, finish, isDir, layoutError, pickSplit, requireRoot } from './common.js';

const AC_EXPECTED =
  'test.csv / val.csv (audiocap_id,youtube_id,start_time,caption), as github.com/cdjkim/audiocaps, ' +
  'and the clips as <youtube_id>.wav, Y<youtube_id>.wav or <youtube_id>_<start_time>.wav (any audio extension) anywhere below';

function audiocaps(mode: 'retrieval' | 'captioning'): DatasetAdapter {
  const task = mode === 'retrieval' ? 'audiocaps' : 'audiocaps-captions';
  return {
    task,
    title: 'AudioCaps',
    kind: mode,
    layout: AC_EXPECTED,
    load(dir, options) {
      const split = pickSplit(options, ['test', 'val', 'train'], 'test', 'AudioCaps');
      const root = requireRoot(dir, 'AudioCaps', `${split}.csv`, AC_EXPECTED);
      const { rows } = readCsv(join(root, `${split}.csv`), ['youtube_id', 'start_time', 'caption']);
      const index = new AudioIndex(dir);
      const clips = new Map<string, EvalItem>();
      for (const r of rows) {
        const key = `${r.youtube_id}\u0000${r.start_time}`;
        let item = clips.get(key);
        if (!item) {
          const s = Number(r.start_time);
          const found = index.find([
            r.youtube_id,
            `${r.youtube_id}_${r.start_time}`,
            `${r.youtube_id}_${s.toFixed(3)}`,
            `${r.youtube_id}_${s}_${s + 10}`,
            `${r.youtube_id}_${s.toFixed(3)}_${(s + 10).toFixed(3)}`,
            `${r.youtube_id}_${s * 1000}`,
          ]);
          item = { path: found ?? join(root, `${r.youtube_id}.wav`), id: r.youtube_id, labels: [], captions: [] };
          clips.set(key, item);
        }
        item.captions!.push(r.caption);
      }
      return finish(
        {
          task,
          title: 'AudioCaps',
          items: [...clips.values()],
          split,
          retrieval: mode === 'retrieval',
          captioning: mode === 'captioning',
          notes: ['audio is not distributed with AudioCaps: clips that could not be downloaded are absent (see --allow-missing)'],
        },
        options,
        root,
      );
    },
  };
}

const CLOTHO_EXPECTED =
  'clotho_captions_evaluation.csv (file_name,caption_1..caption_5) and evaluation/<file_name> (likewise development, validation), ' +
  'as Clotho v2 on Zenodo';

function clotho(mode: 'retrieval' | 'captioning'): DatasetAdapter {
  const task = mode === 'retrieval' ? 'clotho' : 'clotho-captions';
  return {
    task,
    title: 'Clotho',
    kind: mode,
    layout: CLOTHO_EXPECTED,
    load(dir, options) {
      const split = pickSplit(options, ['evaluation', 'validation', 'development'], 'evaluation', 'Clotho');
      const csv = `clotho_captions_${split}.csv`;
      const root = requireRoot(dir, 'Clotho', csv, CLOTHO_EXPECTED);
      const audioDir = [split, `clotho_audio_${split}`].map((d) => join(root, d)).find(isDir);
      if (!audioDir) throw layoutError(dir, 'Clotho', CLOTHO_EXPECTED, `no ${split}/ audio folder`);
      const { columns, rows } = readCsv(join(root, csv), ['file_name']);
      const capCols = columns.filter((c) => /^caption_\d+$/.test(c));
      if (capCols.length === 0) throw layoutError(dir, 'Clotho', CLOTHO_EXPECTED, `${csv} has no caption_N columns`);
      const items = rows.map((r) => ({
        path: join(audioDir, r.file_name),
        id: r.file_name,
        labels: [],
        captions: capCols.map((c) => r[c]).filter((c) => c !== ''),
      }));
      return finish(
        {
          task,
          title: 'Clotho',
          items,
          split,
          retrieval: mode === 'retrieval',
          captioning: mode === 'captioning',
        },
        options,
        root,
      );
    },
  };
}

export const audiocapsRetrieval = audiocaps('retrieval');
export const audiocapsCaptions = audiocaps('captioning');
export const clothoRetrieval = clotho('retrieval');
export const clothoCaptions = clotho('captioning');
