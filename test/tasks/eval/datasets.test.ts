/** Every adapter on a miniature copy of its dataset's official layout (no model needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ADAPTERS, type EvalDataset, findAdapter, loadDataset, loadManifest } from '../../../src/tasks/eval/datasets/index.js';
import { decodeAudio } from '../../../src/audio/index.js';
import { parseDelimited } from '../../../src/tasks/eval/table.js';
import * as L from './layouts.js';

const labelsOf = (d: EvalDataset): Record<string, string[]> =>
  Object.fromEntries(d.items.map((it) => [it.id, it.labels.map((l) => d.classification!.classes[l])]));

function assertFilesExist(d: EvalDataset): void {
  for (const it of d.items) assert.ok(existsSync(it.path), it.path);
}

test('ESC-50: meta/esc50.csv classes by target, prompts with _ → space, folds, ESC-10 subset', () => {
  const dir = L.makeEsc50();
  const d = loadDataset('esc50', dir);
  assert.deepEqual(d.classification, {
    classes: ['dog', 'rooster', 'helicopter'],
    prompts: ['dog', 'rooster', 'helicopter'],
    multiLabel: false,
  });
  assert.equal(d.items.length, 6);
  assert.equal(d.template, 'this is the sound of ');
  assert.deepEqual(labelsOf(d)['1-100046-A-40.wav'], ['helicopter']);
  assertFilesExist(d);
  const f2 = loadDataset('esc50', join(dir, 'ESC-50-master'), { fold: 2 });
  assert.equal(f2.items.length, 3);
  assert.equal(f2.split, 'fold 2');
  assert.throws(() => loadDataset('esc50', dir, { fold: 6 }), /folds 1, 2, 3, 4, 5/);
  const e10 = loadDataset('esc10', dir);
  assert.deepEqual(e10.classification!.classes, ['dog', 'rooster']);
  assert.equal(e10.items.length, 4);
});

test('a folder that does not match names the expected files; absent audio is named or skipped', () => {
  const dir = L.makeUs8k();
  assert.throws(
    () => loadDataset('esc50', dir),
    (e: Error) => /does not look like ESC-50/.test(e.message) && /meta\/esc50\.csv/.test(e.message) && e.message.includes(dir),
  );
  assert.throws(() => loadDataset('esc50', join(dir, 'nope')), /no such folder/);
  assert.throws(() => loadDataset('nosuchtask', dir), /unknown task 'nosuchtask'/);
  const esc = L.makeEsc50();
  rmSync(join(esc, 'ESC-50-master', 'audio', '2-100060-A-1.wav'));
  assert.throws(() => loadDataset('esc50', esc), /1 of 6 ESC-50 audio files .* absent \(audio\/2-100060-A-1\.wav\).*--allow-missing/);
  const d = loadDataset('esc50', esc, { allowMissing: true });
  assert.equal(d.items.length, 5);
  assert.deepEqual(
    d.missing.map((p) => basename(p)),
    ['2-100060-A-1.wav'],
  );
  assert.equal(loadDataset('esc50', esc, { allowMissing: true, limit: 2 }).items.length, 2);
  for (const a of ADAPTERS) assert.equal(findAdapter(a.task), a);
  assert.equal(findAdapter('urbansound8k')?.task, 'us8k');
});

test('UrbanSound8K: metadata/UrbanSound8K.csv, audio/fold<N>/, classes by classID', () => {
  const d = loadDataset('us8k', L.makeUs8k());
  assert.deepEqual(d.classification!.classes, ['air_conditioner', 'dog_bark', 'siren']);
  assert.deepEqual(d.classification!.prompts, ['air conditioner', 'dog bark', 'siren']);
  assert.equal(d.items.length, 6);
  assert.match(d.items[5].path, /audio\/fold10\/100108-8-0-0\.wav$/);
  assertFilesExist(d);
  assert.equal(loadDataset('urbansound8k', L.makeUs8k(), { fold: 10 }).items.length, 3);
});

test('FSD50K: vocabulary.csv order, eval.csv multi-labels, dev.csv splits', () => {
  const dir = L.makeFsd50k();
  const d = loadDataset('fsd50k', dir);
  assert.deepEqual(d.classification!.classes, ['Bark', 'Electric_guitar', 'Music', 'Rain']);
  assert.equal(d.classification!.multiLabel, true);
  assert.deepEqual(d.classification!.prompts[1], 'Electric guitar');
  assert.deepEqual(labelsOf(d), {
    '37199.wav': ['Electric_guitar', 'Music'],
    '175151.wav': ['Bark'],
    '253463.wav': ['Rain'],
    '329838.wav': ['Bark', 'Music'],
  });
  assertFilesExist(d);
  assert.deepEqual(
    loadDataset('fsd50k', dir, { split: 'val' }).items.map((i) => i.id),
    ['16399.wav'],
  );
  assert.equal(loadDataset('fsd50k', dir, { split: 'dev' }).items.length, 2);
});

test('AudioSet: class_labels_indices.csv, eval_segments.csv with # headers and quoted mids, Y-prefixed clips', () => {
  const d = loadDataset('audioset', L.makeAudioSet());
  assert.deepEqual(d.classification!.classes, ['Speech', 'Bark', 'Music']);
  assert.deepEqual(labelsOf(d), { '--4gqARaEJE': ['Speech', 'Music'], '-1nilez17Dg': ['Bark'], '-0mk-Y_Bi_A': ['Music'] });
  assertFilesExist(d);
});

test('DCASE2017 task 4: weak-label ground truth (one row per label) grouped per clip', () => {
  const d = loadDataset('dcase2017-task4', L.makeDcase2017());
  assert.equal(d.classification!.classes.length, 17);
  assert.deepEqual(labelsOf(d)['-5QrBL6MzLg_60.000_70.000'], ['Train horn', 'Train']);
  assert.deepEqual(labelsOf(d)['1F3vk1z6ed4_0.000_10.000'], ['Ambulance (siren)']);
  assertFilesExist(d);
});

test('VocalSound: labels from <spk>_<n>_<class>.wav, datafiles/te.json test split, --split all', () => {
  const dir = L.makeVocalSound();
  const d = loadDataset('vocalsound', dir);
  assert.equal(d.split, 'test');
  assert.deepEqual(labelsOf(d), {
    'f0003_0_cough.wav': ['cough'],
    'f0003_0_laughter.wav': ['laughter'],
    'm0101_0_throatclearing.wav': ['throatclearing'],
  });
  assert.equal(d.classification!.prompts[3], 'throat clearing');
  assert.equal(loadDataset('vocalsound', dir, { split: 'all' }).items.length, 5);
  assert.throws(() => loadDataset('vocalsound', dir, { split: 'validation' }), /datafiles\/val\.json/);
});

test('TUT Acoustic Scenes 2017: meta.txt (tab-separated), fold lists, the 15 scenes', () => {
  const dir = L.makeTut2017();
  const d = loadDataset('tut2017', dir);
  assert.equal(d.classification!.classes.length, 15);
  assert.deepEqual(Object.values(labelsOf(d)).flat(), ['beach', 'cafe/restaurant', 'city_center', 'tram']);
  assert.equal(d.classification!.prompts[2], 'cafe or restaurant');
  assert.equal(loadDataset('tut2017', dir, { fold: 1 }).items.length, 2);
  assertFilesExist(d);
  // the evaluation set's .meta.zip holds evaluation_setup/evaluate.txt (dcase_util derives meta.txt from it)
  rmSync(join(dir, 'TUT-acoustic-scenes-2017-evaluation', 'meta.txt'));
  L.writeText(
    join(dir, 'TUT-acoustic-scenes-2017-evaluation', 'evaluation_setup', 'evaluate.txt'),
    'audio/1.wav\tbeach\naudio/4.wav\ttram\n',
  );
  const e = loadDataset('tut2017', dir);
  assert.deepEqual(Object.values(labelsOf(e)).flat(), ['beach', 'tram']);
  assert.equal(e.split, 'evaluation_setup/evaluate.txt');
});

test('GTZAN genres: genres/<genre>/<genre>.000NN.au, ten classes; the .au files decode', async () => {
  const d = loadDataset('gtzan-genres', L.makeGtzanGenres());
  assert.equal(d.classification!.classes.length, 10);
  assert.deepEqual(Object.values(labelsOf(d)).flat(), ['blues', 'jazz', 'rock']);
  assert.equal(d.classification!.prompts[4], 'hip hop');
  const au = await decodeAudio(d.items[0].path, { ffmpeg: false });
  assert.equal(au.sampleRate, 22050);
  assert.equal(au.channels[0].length, Math.round(0.25 * 22050));
  assert.throws(() => loadDataset('gtzan', L.tempDir('empty')), /GTZAN genres.*genres\/<genre>/);
});

test('GTZAN music/speech, Beijing Opera: one folder per class', () => {
  const ms = loadDataset('gtzan-music-speech', L.makeGtzanMusicSpeech());
  assert.deepEqual(labelsOf(ms), {
    'music_wav/bagpipe.wav': ['music'],
    'music_wav/ballad.wav': ['music'],
    'speech_wav/acomic.wav': ['speech'],
  });
  const bo = loadDataset('beijing-opera', L.makeBeijingOpera());
  assert.deepEqual(bo.classification!.classes, ['bangu', 'daluo', 'naobo', 'xiaoluo']);
  assert.equal(bo.items.length, 4);
});

test('NSynth: examples.json → instrument family, pitch, velocity, qualities (multi-label)', () => {
  const dir = L.makeNsynth();
  const inst = loadDataset('nsynth-instrument', dir);
  assert.equal(inst.classification!.classes.length, 11);
  assert.deepEqual(labelsOf(inst)['vocal_synthetic_003-060-050.wav'], ['vocal']);
  assert.equal(inst.classification!.prompts[9], 'synth lead');
  const pitch = loadDataset('nsynth-pitch', dir);
  assert.deepEqual(pitch.classification!.classes, ['21', '49', '60']);
  assert.deepEqual(pitch.classification!.prompts, ['the musical note A0', 'the musical note C#3', 'the musical note C4']);
  const vel = loadDataset('nsynth-velocity', dir);
  assert.deepEqual(vel.classification!.classes, ['25', '50', '100', '127']);
  const q = loadDataset('nsynth-qualities', dir);
  assert.equal(q.classification!.multiLabel, true);
  assert.deepEqual(labelsOf(q)['keyboard_electronic_001-021-127.wav'], ['bright', 'reverb']);
  assert.deepEqual(labelsOf(q)['vocal_synthetic_003-060-050.wav'], []);
  assertFilesExist(q);
});

test('CREMA-D and RAVDESS: emotion from the file name', () => {
  const c = loadDataset('crema-d', L.makeCremaD());
  assert.deepEqual(labelsOf(c), {
    '1001_DFA_ANG_XX.wav': ['anger'],
    '1001_IEO_HAP_HI.wav': ['happy'],
    '1002_TIE_SAD_LO.wav': ['sad'],
    '1003_ITS_NEU_XX.wav': ['neutral'],
  });
  const dir = L.makeRavdess();
  const r = loadDataset('ravdess', dir);
  assert.deepEqual(labelsOf(r), {
    '03-01-01-01-01-01-01.wav': ['neutral'],
    '03-01-05-02-01-02-01.wav': ['angry'],
    '03-01-08-01-02-01-02.wav': ['surprised'],
    '03-02-03-01-01-01-02.wav': ['happy'],
  });
  assert.equal(loadDataset('ravdess', dir, { split: 'speech' }).items.length, 3);
  assert.throws(() => loadDataset('ravdess', L.tempDir('empty')), /RAVDESS.*Actor_<NN>/);
});

test('Speech Commands: testing_list.txt / validation_list.txt, classes = the listed words', () => {
  const dir = L.makeSpeechCommands();
  const t = loadDataset('speech-commands', dir);
  assert.deepEqual(t.classification!.classes, ['marvin', 'no', 'yes']);
  assert.deepEqual(
    t.items.map((i) => i.id),
    ['yes/0a7c2a8d_nohash_0.wav', 'no/0b09edd3_nohash_1.wav', 'marvin/0c40e715_nohash_0.wav'],
  );
  assert.deepEqual(loadDataset('speech-commands', dir, { split: 'validation' }).classification!.classes, ['up', 'yes']);
});

test('LibriCount: count from the per-file JSON speaker list', () => {
  const d = loadDataset('libricount', L.makeLibriCount());
  assert.equal(d.classification!.classes.length, 11);
  assert.deepEqual(labelsOf(d), { '0_a1b2.wav': ['0'], '2_c3d4.wav': ['2'], '5_e5f6.wav': ['5'] });
  assert.equal(d.classification!.prompts[2], 'two people speaking');
});

test('AudioCaps and Clotho: captions per clip for retrieval and captioning', () => {
  const ac = loadDataset('audiocaps', L.makeAudioCaps());
  assert.equal(ac.retrieval, true);
  assert.deepEqual(
    ac.items.map((i) => [i.id, i.captions!.length]),
    [
      ['--0w1YA1Hm4', 2],
      ['-AheI8Epim4', 2],
      ['-BUWGM7qeUM', 2],
    ],
  );
  assertFilesExist(ac);
  const cl = loadDataset('clotho', L.makeClotho());
  assert.deepEqual(
    cl.items.map((i) => i.id),
    ['Santa Motor.wav', 'Radio Garble.wav', 'Footsteps on gravel, 2.wav'],
  );
  assert.equal(cl.items[2].captions![4], 'caption 5 of clip 2, with a comma');
  assertFilesExist(cl);
  const capRoot = L.makeClotho();
  rmSync(join(capRoot, 'evaluation', 'Radio Garble.wav'));
  assert.throws(() => loadDataset('clotho', capRoot), /Radio Garble\.wav/);
  const caps = loadDataset('clotho-captions', capRoot); // scoring captions needs no audio
  assert.equal(caps.captioning, true);
  assert.equal(caps.items.length, 3);
  assert.throws(() => loadDataset('clotho', L.makeAudioCaps()), /clotho_captions_evaluation\.csv/);
});

test('manifest: CSV or JSONL, distinct labels → classes, captions → retrieval, rows merged per file', () => {
  const dir = L.tempDir('manifest');
  for (const f of ['a.wav', 'b.wav', 'c.wav', 'sub/d.wav']) L.writeWav(join(dir, f));
  writeFileSync(
    join(dir, 'm.csv'),
    [
      'path,label,caption,other',
      'a.wav,dog_bark,a dog barks,x',
      'b.wav,siren,"a siren wails, far away",y',
      'c.wav,,keyboard typing,z',
      'sub/d.wav,dog_bark,a dog barks,w',
    ].join('\n'),
  );
  const d = loadManifest(join(dir, 'm.csv'), { labelColumn: 'label', captionColumn: 'caption' });
  assert.deepEqual(d.classification, { classes: ['dog_bark', 'siren'], prompts: ['dog bark', 'siren'], multiLabel: false });
  assert.equal(d.items.length, 4);
  assert.deepEqual(
    d.items.map((i) => i.labels),
    [[0], [1], [], [0]],
  );
  assert.equal(d.retrieval, true);
  assert.equal(d.mergeIdenticalCaptions, true);
  assert.equal(d.items[1].captions![0], 'a siren wails, far away');
  assert.throws(
    () => loadManifest(join(dir, 'm.csv'), { labelColumn: 'nope' }),
    /no column 'nope' \(columns: path, label, caption, other\)/,
  );
  writeFileSync(
    join(dir, 'm.jsonl'),
    `${JSON.stringify({ file: 'a.wav', tags: ['dog', 'outdoor'] })}\n${JSON.stringify({ file: 'b.wav', tags: ['siren'] })}\n`,
  );
  const j = loadManifest(join(dir, 'm.jsonl'), { labelColumn: 'tags', multiLabel: true });
  assert.deepEqual(j.classification!.classes, ['dog', 'outdoor', 'siren']);
  assert.deepEqual(
    j.items.map((i) => i.labels),
    [[0, 1], [2]],
  );
  writeFileSync(join(dir, 'clash.csv'), 'path,label\na.wav,dog\na.wav,cat\nb.wav,cat\n');
  assert.throws(
    () => loadManifest(join(dir, 'clash.csv'), { labelColumn: 'label' }),
    /a\.wav has several 'label' values \(dog, cat\).*--multi-label/,
  );
  writeFileSync(join(dir, 'bad.csv'), 'path,label\nmissing.wav,a\nb.wav,b\n');
  assert.throws(() => loadManifest(join(dir, 'bad.csv'), { labelColumn: 'label' }), /missing\.wav/);
});

test('CSV parsing: quotes, doubled quotes, CRLF, BOM, a space before a quoted field', () => {
  assert.deepEqual(parseDelimited('\ufeffa,b\r\n"x, y","he said ""hi"""\r\n1, "2,3"\n'), [
    ['a', 'b'],
    ['x, y', 'he said "hi"'],
    ['1', '2,3'],
  ]);
});
