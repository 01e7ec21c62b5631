/**
 * Miniature copies of each dataset's official distribution layout: the same folder structure, file
 * name patterns and metadata columns, with a few short synthetic clips (distinct tones, so that
 * clips differ in content and embedding).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { encodeWav } from '../../../src/audio/index.js';

let toneCounter = 0;

/** A short mono clip; each call gives different content (frequency and noise seed). */
export function clip(seconds = 0.25, sampleRate = 8000): Float32Array {
  const k = toneCounter++;
  const n = Math.round(seconds * sampleRate);
  const x = new Float32Array(n);
  const f = 150 + 97 * k;
  let s = 0x9e3779b9 ^ (k * 2654435761);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = 0.4 * Math.sin((2 * Math.PI * f * i) / sampleRate) * (k % 2 ? 1 : i / n) + 0.05 * ((s >>> 0) / 4294967296 - 0.5);
  }
  return x;
}

export function writeWav(path: string, seconds = 0.25, sampleRate = 8000): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodeWav([clip(seconds, sampleRate)], sampleRate, 'pcm16'));
}

/** Sun .au, 16-bit big-endian linear PCM (GTZAN's format). */
export function encodeAu(samples: Float32Array, sampleRate: number): Uint8Array {
  const out = new Uint8Array(24 + samples.length * 2);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0x2e736e64);
  dv.setUint32(4, 24);
  dv.setUint32(8, samples.length * 2);
  dv.setUint32(12, 3);
  dv.setUint32(16, sampleRate);
  dv.setUint32(20, 1);
  samples.forEach((v, i) => dv.setInt16(24 + 2 * i, Math.max(-32768, Math.min(32767, Math.round(v * 32768)))));
  return out;
}

export function writeAu(path: string, seconds = 0.25, sampleRate = 8000): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodeAu(clip(seconds, sampleRate), sampleRate));
}

export function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

export function tempDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `clap-eval-${name}-`));
}

/** ESC-50-master/: meta/esc50.csv + audio/{fold}-{src}-{take}-{target}.wav; 3 classes × 2 folds. */
export function makeEsc50(root = tempDir('esc50')): string {
  const base = join(root, 'ESC-50-master');
  const classes: [number, string, boolean][] = [
    [0, 'dog', true],
    [1, 'rooster', true],
    [40, 'helicopter', false],
  ];
  const rows = ['filename,fold,target,category,esc10,src_file,take'];
  let src = 100032;
  for (const fold of [1, 2]) {
    for (const [target, category, esc10] of classes) {
      const name = `${fold}-${src}-A-${target}.wav`;
      rows.push(`${name},${fold},${target},${category},${esc10 ? 'True' : 'False'},${src},A`);
      writeWav(join(base, 'audio', name));
      src += 7;
    }
  }
  writeText(join(base, 'meta', 'esc50.csv'), `${rows.join('\n')}\n`);
  return root;
}

/** UrbanSound8K/: metadata/UrbanSound8K.csv + audio/fold{N}/{fsID}-{classID}-{occ}-{slice}.wav. */
export function makeUs8k(root = tempDir('us8k')): string {
  const base = join(root, 'UrbanSound8K');
  const rows = ['slice_file_name,fsID,start,end,salience,fold,classID,class'];
  const classes: [number, string][] = [
    [0, 'air_conditioner'],
    [3, 'dog_bark'],
    [8, 'siren'],
  ];
  for (const fold of [1, 10]) {
    for (const [id, name] of classes) {
      const fsID = 100000 + fold * 10 + id;
      const file = `${fsID}-${id}-0-0.wav`;
      rows.push(`${file},${fsID},0.0,4.0,1,${fold},${id},${name}`);
      writeWav(join(base, 'audio', `fold${fold}`, file));
    }
  }
  writeText(join(base, 'metadata', 'UrbanSound8K.csv'), `${rows.join('\n')}\n`);
  return root;
}

/** FSD50K: FSD50K.ground_truth/{vocabulary,eval,dev}.csv + FSD50K.eval_audio/<fname>.wav. */
export function makeFsd50k(root = tempDir('fsd50k')): string {
  writeText(
    join(root, 'FSD50K.ground_truth', 'vocabulary.csv'),
    '0,Bark,/m/05tny_\n1,Electric_guitar,/m/02sgy\n2,Music,/m/04rlf\n3,Rain,/m/06mb1\n',
  );
  writeText(
    join(root, 'FSD50K.ground_truth', 'eval.csv'),
    [
      'fname,labels,mids',
      '37199,"Electric_guitar,Music","/m/02sgy,/m/04rlf"',
      '175151,Bark,/m/05tny_',
      '253463,Rain,/m/06mb1',
      '329838,"Music,Bark","/m/04rlf,/m/05tny_"',
    ].join('\n'),
  );
  writeText(join(root, 'FSD50K.ground_truth', 'dev.csv'), 'fname,labels,mids,split\n64760,Rain,/m/06mb1,train\n16399,Bark,/m/05tny_,val\n');
  for (const f of ['37199', '175151', '253463', '329838']) writeWav(join(root, 'FSD50K.eval_audio', `${f}.wav`));
  for (const f of ['64760', '16399']) writeWav(join(root, 'FSD50K.dev_audio', `${f}.wav`));
  return root;
}

/** AudioSet: class_labels_indices.csv + eval_segments.csv (with its # header lines) + Y<id>.wav clips. */
export function makeAudioSet(root = tempDir('audioset')): string {
  writeText(
    join(root, 'class_labels_indices.csv'),
    'index,mid,display_name\n0,/m/09x0r,"Speech"\n1,/m/05tny_,"Bark"\n2,/m/04rlf,"Music"\n',
  );
  writeText(
    join(root, 'eval_segments.csv'),
    [
      '# Segments csv created Sun Mar  5 10:54:25 2017',
      '# num_ytids=3, num_segs=3, num_unique_labels=3, num_positive_labels=4',
      '# YTID, start_seconds, end_seconds, positive_labels',
      '--4gqARaEJE, 0.000, 10.000, "/m/09x0r,/m/04rlf"',
      '-1nilez17Dg, 30.000, 40.000, "/m/05tny_"',
      '-0mk-Y_Bi_A, 10.000, 20.000, "/m/04rlf"',
    ].join('\n'),
  );
  writeWav(join(root, 'audio', 'eval', 'Y--4gqARaEJE.wav'));
  writeWav(join(root, 'audio', 'eval', '-1nilez17Dg.wav'));
  writeWav(join(root, 'audio', 'eval', 'Y-0mk-Y_Bi_A_10.000_20.000.wav'));
  return root;
}

/** DCASE2017 task 4: metadata/groundtruth_weak_label_evaluation_set.csv (tab-separated) + evaluation/Y<id>_<s>_<e>.wav. */
export function makeDcase2017(root = tempDir('dcase17')): string {
  writeText(
    join(root, 'metadata', 'groundtruth_weak_label_evaluation_set.csv'),
    [
      '-5QrBL6MzLg_60.000_70.000.wav\t60.000\t70.000\tTrain horn',
      '-5QrBL6MzLg_60.000_70.000.wav\t60.000\t70.000\tTrain',
      '0-LrH4hiCnM_30.000_40.000.wav\t30.000\t40.000\tCar alarm',
      '1F3vk1z6ed4_0.000_10.000.wav\t0.000\t10.000\tAmbulance (siren)',
    ].join('\n'),
  );
  for (const n of ['-5QrBL6MzLg_60.000_70.000', '0-LrH4hiCnM_30.000_40.000', '1F3vk1z6ed4_0.000_10.000'])
    writeWav(join(root, 'evaluation', `Y${n}.wav`));
  return root;
}

/** VocalSound release: audio_16k/<spk>_<n>_<class>.wav, datafiles/te.json, class_labels_indices_vs.csv. */
export function makeVocalSound(root = tempDir('vocalsound')): string {
  const base = join(root, 'data');
  writeText(
    join(base, 'class_labels_indices_vs.csv'),
    'index,mid,display_name\n0,/m/01j3sz,"Laughter"\n1,/m/07plz5l,"Sigh"\n2,/m/01b_21,"Cough"\n' +
      '3,/m/0dl9sf8,"Throat clearing"\n4,/m/01hsr_,"Sneeze"\n5,/m/07ppn3j,"Sniff"\n',
  );
  const names = ['f0003_0_cough.wav', 'f0003_0_laughter.wav', 'm0101_0_throatclearing.wav', 'm0101_0_sniff.wav', 'f0200_1_sigh.wav'];
  for (const n of names) writeWav(join(base, 'audio_16k', n), 0.25, 16000);
  const te = names.slice(0, 3).map((n) => ({ wav: `/data/sls/scratch/vocalsound/data_16k/${n}`, labels: '/m/01b_21' }));
  writeText(join(base, 'datafiles', 'te.json'), JSON.stringify({ data: te }));
  return root;
}

/** TUT-acoustic-scenes-2017-evaluation/: meta.txt (audio/N.wav<TAB>scene) + audio/. */
export function makeTut2017(root = tempDir('tut2017')): string {
  const base = join(root, 'TUT-acoustic-scenes-2017-evaluation');
  const rows: [string, string][] = [
    ['audio/1.wav', 'beach'],
    ['audio/2.wav', 'cafe/restaurant'],
    ['audio/3.wav', 'city_center'],
    ['audio/4.wav', 'tram'],
  ];
  writeText(join(base, 'meta.txt'), rows.map(([f, s]) => `${f}\t${s}`).join('\n'));
  writeText(
    join(base, 'evaluation_setup', 'fold1_evaluate.txt'),
    rows
      .slice(0, 2)
      .map(([f, s]) => `${f}\t${s}`)
      .join('\n'),
  );
  for (const [f] of rows) writeWav(join(base, f));
  return root;
}

/** genres/<genre>/<genre>.000NN.au (Sun .au, as genres.tar.gz). */
export function makeGtzanGenres(root = tempDir('gtzan')): string {
  for (const g of ['blues', 'classical', 'country', 'disco', 'hiphop', 'jazz', 'metal', 'pop', 'reggae', 'rock']) {
    const n = ['blues', 'jazz', 'rock'].includes(g) ? 1 : 0;
    if (n === 0) mkdirSync(join(root, 'genres', g), { recursive: true });
    for (let i = 0; i < n; i++) writeAu(join(root, 'genres', g, `${g}.${String(i).padStart(5, '0')}.au`), 0.25, 22050);
  }
  return root;
}

/** music_speech/{music_wav,speech_wav}/*.wav. */
export function makeGtzanMusicSpeech(root = tempDir('gtzanms')): string {
  writeWav(join(root, 'music_speech', 'music_wav', 'bagpipe.wav'), 0.25, 22050);
  writeWav(join(root, 'music_speech', 'music_wav', 'ballad.wav'), 0.25, 22050);
  writeWav(join(root, 'music_speech', 'speech_wav', 'acomic.wav'), 0.25, 22050);
  return root;
}

/** Beijing Opera Percussion: one folder per instrument. */
export function makeBeijingOpera(root = tempDir('beijing')): string {
  for (const c of ['bangu', 'daluo', 'naobo', 'xiaoluo']) writeWav(join(root, 'BeijingOpera', c, `${c}-1.wav`));
  return root;
}

/** nsynth-test/: examples.json + audio/<note_str>.wav. */
export function makeNsynth(root = tempDir('nsynth')): string {
  const base = join(root, 'nsynth-test');
  const q = (...on: number[]): number[] => Array.from({ length: 10 }, (_, i) => (on.includes(i) ? 1 : 0));
  const notes: Record<string, object> = {
    'bass_synthetic_068-049-025': {
      note: 1,
      instrument_family: 0,
      instrument_family_str: 'bass',
      pitch: 49,
      velocity: 25,
      qualities: q(1),
    },
    'keyboard_electronic_001-021-127': {
      note: 2,
      instrument_family: 4,
      instrument_family_str: 'keyboard',
      pitch: 21,
      velocity: 127,
      qualities: q(0, 8),
    },
    'guitar_acoustic_010-060-100': {
      note: 3,
      instrument_family: 3,
      instrument_family_str: 'guitar',
      pitch: 60,
      velocity: 100,
      qualities: q(7),
    },
    'vocal_synthetic_003-060-050': {
      note: 4,
      instrument_family: 10,
      instrument_family_str: 'vocal',
      pitch: 60,
      velocity: 50,
      qualities: q(),
    },
  };
  writeText(join(base, 'examples.json'), JSON.stringify(notes));
  for (const k of Object.keys(notes)) writeWav(join(base, 'audio', `${k}.wav`), 0.25, 16000);
  return root;
}

/** CREMA-D: AudioWAV/<actor>_<sentence>_<EMO>_<level>.wav. */
export function makeCremaD(root = tempDir('cremad')): string {
  for (const n of ['1001_DFA_ANG_XX.wav', '1001_IEO_HAP_HI.wav', '1002_TIE_SAD_LO.wav', '1003_ITS_NEU_XX.wav'])
    writeWav(join(root, 'AudioWAV', n), 0.25, 16000);
  return root;
}

/** RAVDESS audio-only: Actor_NN/03-CC-EE-II-SS-RR-NN.wav (speech and song). */
export function makeRavdess(root = tempDir('ravdess')): string {
  writeWav(join(root, 'Audio_Speech_Actors_01-24', 'Actor_01', '03-01-01-01-01-01-01.wav'), 0.25, 16000);
  writeWav(join(root, 'Audio_Speech_Actors_01-24', 'Actor_01', '03-01-05-02-01-02-01.wav'), 0.25, 16000);
  writeWav(join(root, 'Audio_Speech_Actors_01-24', 'Actor_02', '03-01-08-01-02-01-02.wav'), 0.25, 16000);
  writeWav(join(root, 'Audio_Song_Actors_01-24', 'Actor_02', '03-02-03-01-01-01-02.wav'), 0.25, 16000);
  writeWav(join(root, 'Video', 'Actor_01', '01-01-01-01-01-01-01.wav'), 0.25, 16000); // not audio-only: ignored
  return root;
}

/** speech_commands_v0.02: testing_list.txt, validation_list.txt, <word>/<spk>_nohash_<n>.wav. */
export function makeSpeechCommands(root = tempDir('sc')): string {
  const test = ['yes/0a7c2a8d_nohash_0.wav', 'no/0b09edd3_nohash_1.wav', 'marvin/0c40e715_nohash_0.wav'];
  const val = ['yes/1a2b3c4d_nohash_0.wav', 'up/2b3c4d5e_nohash_0.wav'];
  writeText(join(root, 'testing_list.txt'), `${test.join('\n')}\n`);
  writeText(join(root, 'validation_list.txt'), `${val.join('\n')}\n`);
  for (const f of [...test, ...val, 'yes/9f9f9f9f_nohash_0.wav']) writeWav(join(root, f), 0.25, 16000);
  writeWav(join(root, '_background_noise_', 'white_noise.wav'), 0.25, 16000);
  writeText(join(root, 'LICENSE'), 'CC-BY-4.0\n');
  return root;
}

/** LibriCount10-0dB: test/<count>_<id>.wav + .json speaker lists. */
export function makeLibriCount(root = tempDir('libricount')): string {
  const base = join(root, 'LibriCount10-0dB');
  const speakers = (k: number): object[] =>
    Array.from({ length: k }, (_, i) => ({ sex: 'F', activity: [[0, 8000 * (i + 1)]], speaker_id: 100 + i }));
  for (const [k, id] of [
    [0, 'a1b2'],
    [2, 'c3d4'],
    [5, 'e5f6'],
  ] as const) {
    writeWav(join(base, 'test', `${k}_${id}.wav`), 0.25, 16000);
    writeText(join(base, 'test', `${k}_${id}.json`), JSON.stringify(speakers(k)));
  }
  return root;
}

/** AudioCaps: dataset/test.csv (audiocap_id,youtube_id,start_time,caption) + downloaded clips. */
export function makeAudioCaps(root = tempDir('audiocaps')): string {
  const rows = ['audiocap_id,youtube_id,start_time,caption'];
  const clips: [string, number, string[]][] = [
    ['--0w1YA1Hm4', 30, ['A vehicle driving as a man and woman are talking and laughing', 'Men speak and laugh as a vehicle drives']],
    ['-AheI8Epim4', 30, ['A dog barks repeatedly', 'A dog is barking']],
    ['-BUWGM7qeUM', 0, ['Rain falls on a roof', 'Heavy rain is falling']],
  ];
  let id = 97151;
  for (const [yt, start, caps] of clips) for (const c of caps) rows.push(`${id++},${yt},${start},"${c}"`);
  writeText(join(root, 'dataset', 'test.csv'), `${rows.join('\n')}\n`);
  writeWav(join(root, 'audio', 'test', 'Y--0w1YA1Hm4.wav'));
  writeWav(join(root, 'audio', 'test', '-AheI8Epim4_30.wav'));
  writeWav(join(root, 'audio', 'test', '-BUWGM7qeUM.wav'));
  return root;
}

/** Clotho v2: clotho_captions_evaluation.csv + evaluation/<file_name>. */
export function makeClotho(root = tempDir('clotho')): string {
  const rows = ['file_name,caption_1,caption_2,caption_3,caption_4,caption_5'];
  const files = ['Santa Motor.wav', 'Radio Garble.wav', 'Footsteps on gravel, 2.wav'];
  files.forEach((f, i) => {
    const caps = Array.from({ length: 5 }, (_, j) => `caption ${j + 1} of clip ${i}, with a comma`);
    rows.push([f.includes(',') ? `"${f}"` : f, ...caps.map((c) => `"${c}"`)].join(','));
    writeWav(join(root, 'evaluation', f));
  });
  writeText(join(root, 'clotho_captions_evaluation.csv'), `${rows.join('\n')}\n`);
  return root;
}
