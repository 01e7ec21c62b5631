/** Every bad input gives a one-line ClapError that names the input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClapError } from '../../src/errors.js';
import { decodeAudio, encodeWav, loadAudio, type AudioInput } from '../../src/audio/index.js';
import { findFfmpeg } from '../../src/audio/ffmpeg.js';
import { looksLikeText } from '../../src/audio/sniff.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function rejectsWith(
  input: AudioInput,
  name: string,
  pattern: RegExp,
  options: { ffmpeg?: boolean | string; name?: string } = {},
): Promise<void> {
  await assert.rejects(decodeAudio(input, options), (err: unknown) => {
    assert.ok(err instanceof ClapError, `expected ClapError, got ${String(err)}`);
    assert.ok(!err.message.includes('\n'), `multi-line message: ${err.message}`);
    assert.ok(err.message.includes(name), `message does not name ${name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

const tone = Float32Array.from({ length: 4410 }, (_, i) => 0.5 * Math.sin(i * 0.06));

function withFile(bytes: Uint8Array, fn: (path: string) => Promise<void>, fileName = 'clip.wav'): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'clap-audio-err-'));
  const path = join(dir, fileName);
  writeFileSync(path, bytes);
  return fn(path).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test('missing file, directory, empty file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-audio-err-'));
  try {
    await rejectsWith(join(dir, 'nope.wav'), 'nope.wav', /not found/);
    mkdirSync(join(dir, 'folder.wav'));
    await rejectsWith(join(dir, 'folder.wav'), 'folder.wav', /directory/);
    writeFileSync(join(dir, 'empty.mp3'), new Uint8Array(0));
    await rejectsWith(join(dir, 'empty.mp3'), 'empty.mp3', /empty file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await rejectsWith(new Uint8Array(0), 'upload-7', /empty input/, { name: 'upload-7' });
});

test('WAV with zero samples, truncated data, a cut header', async () => {
  await rejectsWith(encodeWav([new Float32Array(0)], 44100), '<buffer>', /zero samples/);
  const wav = encodeWav([tone], 44100);
  await withFile(wav.subarray(0, wav.length - 1000), (p) =>
    rejectsWith(p, p, /truncated WAV file: the data chunk declares 8820 bytes but only 7820/),
  );
  await rejectsWith(wav.subarray(0, 30), 'short.wav', /corrupt WAV file: truncated fmt chunk/, { name: 'short.wav' });
  await rejectsWith(wav.subarray(0, 8), 'tiny.wav', /unrecognised audio format/, { name: 'tiny.wav', ffmpeg: false });
});

test('WAV with an absurd sample rate or no channels', async () => {
  for (const [rate, re] of [
    [0, /invalid sample rate 0 Hz/],
    [2_000_000, /invalid sample rate 2000000 Hz/],
  ] as const) {
    const wav = encodeWav([tone], 44100);
    new DataView(wav.buffer).setUint32(24, rate, true);
    await rejectsWith(wav, 'rate.wav', re, { name: 'rate.wav' });
  }
  const wav = encodeWav([tone], 44100);
  new DataView(wav.buffer).setUint16(22, 0, true);
  await rejectsWith(wav, 'mono.wav', /0 channels/, { name: 'mono.wav' });
});

test('WAV with an unsupported codec (MP3-in-WAV) without ffmpeg', async () => {
  const wav = encodeWav([tone], 44100);
  new DataView(wav.buffer).setUint16(20, 0x0055, true);
  await withFile(wav, (p) =>
    rejectsWith(p, p, /WAV codec MP3 is not decoded natively; .*the ffmpeg fallback is turned off/, { ffmpeg: false }),
  );
  // with ffmpeg (if any) the garbage payload still fails, with a ClapError naming the file
  await withFile(wav, (p) => rejectsWith(p, p, /MP3|ffmpeg/));
});

test('NaN and Inf samples are rejected', async () => {
  const bad = tone.slice();
  bad[1234] = NaN;
  await rejectsWith(encodeWav([bad], 44100, 'float32'), 'nan.wav', /sample 1234 of channel 0 is NaN/, { name: 'nan.wav' });
  const inf = tone.slice();
  inf[7] = -Infinity;
  await rejectsWith(encodeWav([tone, inf], 44100, 'float64'), 'inf.wav', /sample 7 of channel 1 is -Infinity/, { name: 'inf.wav' });
  await rejectsWith({ samples: bad, sampleRate: 16000 }, 'mic', /NaN/, { name: 'mic' });
});

test('raw samples: bad rate, zero samples, ragged channels', async () => {
  await rejectsWith({ samples: tone, sampleRate: 0 }, '<samples>', /invalid sample rate/);
  await rejectsWith({ samples: tone, sampleRate: 44100.5 }, '<samples>', /not an integer/);
  await rejectsWith({ samples: new Float32Array(0), sampleRate: 16000 }, '<samples>', /zero samples/);
  await rejectsWith(
    { samples: [tone, tone.subarray(1)], sampleRate: 16000 },
    '<samples>',
    /channel 1 has 4409 samples but channel 0 has 4410/,
  );
});

test('unknown bytes and non-native containers without ffmpeg list the supported formats', async () => {
  const binary = Uint8Array.from({ length: 600 }, (_, i) => (i * 7919 + 13) % 251);
  await withFile(
    binary,
    (p) =>
      rejectsWith(p, p, /unrecognised audio format; supported without ffmpeg: WAV .*FLAC, Ogg Vorbis, Ogg Opus, MP3; the ffmpeg/, {
        ffmpeg: false,
      }),
    'notes.mp3',
  );
  await rejectsWith(readFileSync(join(DATA, 'tone_stereo_44k.m4a')), 'voice.m4a', /MP4\/M4A is not decoded natively/, {
    name: 'voice.m4a',
    ffmpeg: false,
  });
});

test('text saved under an audio name is said to be text, with ffmpeg and without', async () => {
  const notes = new TextEncoder().encode('# playlist — café\nsong one.mp3\r\nsong two.mp3\n'.repeat(3));
  for (const [fileName, ffmpeg] of [
    ['notes.wav', true],
    ['list.mp3', true],
    ['notes.wav', false],
  ] as const) {
    if (ffmpeg && !findFfmpeg(undefined)) continue; // without ffmpeg the case below covers it
    await withFile(notes, (p) => rejectsWith(p, p, /^[^:]*: not an audio file: it holds text$/, { ffmpeg }), fileName);
  }
});

test('looksLikeText: UTF-8 text (even cut inside a character) yes; control bytes, NUL or broken UTF-8 no', () => {
  const utf8 = new TextEncoder().encode('naïve – 日本');
  assert.equal(looksLikeText(utf8), true);
  assert.equal(looksLikeText(utf8.subarray(0, utf8.length - 1)), true, 'cut inside the last character');
  assert.equal(looksLikeText(Uint8Array.of(0x52, 0x49, 0x00, 0x46)), false);
  assert.equal(looksLikeText(Uint8Array.of(0x41, 0x1a, 0x42)), false);
  assert.equal(looksLikeText(Uint8Array.of(0x41, 0xff, 0xfe, 0x42)), false);
  assert.equal(looksLikeText(new Uint8Array(0)), false);
});

test('truncated and corrupt compressed files', async () => {
  const cut = (f: string, frac: number): Uint8Array => {
    const b = readFileSync(join(DATA, f));
    return b.subarray(0, Math.floor(b.length * frac));
  };
  await rejectsWith(
    cut('tone_stereo_44k.flac', 0.6),
    'a.flac',
    new RegExp(
      /truncated or corrupt FLAC data: the file holds \d+ of the 13230 samples its header declares; /.source +
        /the frame after them \(at byte \d+\) is cut off or damaged$/.source,
    ),
    {
      name: 'a.flac',
    },
  );
  await rejectsWith(cut('tone_stereo_44k.ogg', 0.6), 'a.ogg', /truncated Ogg Vorbis stream/, { name: 'a.ogg' });
  await rejectsWith(cut('tone_stereo_44k.opus', 0.6), 'a.opus', /truncated Ogg Opus stream/, { name: 'a.opus' });
  await rejectsWith(cut('tone_stereo_44k.mp3', 0.6), 'a.mp3', /truncated MP3 data: the file holds 8 of the 13 frames/, { name: 'a.mp3' });
  await rejectsWith(cut('tone_stereo_44k.flac', 0.005), 'b.flac', /zero samples|truncated/, { name: 'b.flac' });
  const flipped = Buffer.from(readFileSync(join(DATA, 'tone_stereo_44k.flac')));
  for (let i = 5000; i < 5600; i++) flipped[i] ^= 0x5a;
  await rejectsWith(flipped, 'c.flac', /corrupt FLAC/, { name: 'c.flac' });
});

test('loadAudio reports option errors as ClapErrors too', async () => {
  const long = encodeWav([new Float32Array(400000).fill(0.1)], 44100);
  await assert.rejects(
    loadAudio(long, { cropOffset: 400000 }),
    (e: unknown) => e instanceof ClapError && /cropOffset 400000 is outside \[0, 91300\]/.test(e.message),
  );
  await assert.rejects(loadAudio(long, { sliding: { hopS: 0 } }), (e: unknown) => e instanceof ClapError && /hop/.test(e.message));
});

test('an Ogg stream whose complete last page lacks the end-of-stream flag still decodes', async () => {
  const { decodeAudio } = await import('../../src/audio/index.js');
  const bytes = Buffer.from(readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'data', 'tone_stereo_44k.ogg')));
  const full = await decodeAudio(bytes, { ffmpeg: false });
  // clear the EOS flag (header byte 5, bit 2) of the last page
  const last = bytes.lastIndexOf('OggS');
  bytes[last + 5] &= ~0x04;
  const noEos = await decodeAudio(bytes, { name: 'no-eos.ogg', ffmpeg: false });
  assert.equal(noEos.channels[0].length, full.channels[0].length);
});

test('every "not decoded natively" message (GSM, ADPCM, M4A, RIFX) says how ffmpeg would decode it', async () => {
  const codec = (tag: number): Uint8Array => {
    const wav = encodeWav([tone], 8000);
    new DataView(wav.buffer).setUint16(20, tag, true);
    return wav;
  };
  const rifx = encodeWav([tone], 8000);
  rifx.set([0x52, 0x49, 0x46, 0x58]); // 'RIFX'
  const cases: [string, Uint8Array, RegExp][] = [
    ['gsm.wav', codec(0x0031), /^gsm\.wav: WAV codec GSM 6\.10 is not decoded natively; supported without ffmpeg: WAV and Sun \.au \(PCM/],
    ['adpcm.wav', codec(0x0002), /^adpcm\.wav: WAV codec Microsoft ADPCM is not decoded natively; supported without ffmpeg:/],
    ['ima.wav', codec(0x0011), /^ima\.wav: WAV codec IMA ADPCM is not decoded natively/],
    ['voice.m4a', readFileSync(join(DATA, 'tone_stereo_44k.m4a')), /^voice\.m4a: MP4\/M4A is not decoded natively/],
    ['be.wav', rifx, /^be\.wav: big-endian WAV \(RIFX\) is not decoded natively/],
  ];
  for (const [name, bytes, re] of cases) {
    await rejectsWith(bytes, name, new RegExp(`${re.source}.*; the ffmpeg fallback is turned off$`), { name, ffmpeg: false });
    await rejectsWith(bytes, name, new RegExp(`${re.source}.*; the ffmpeg given \\(/nonexistent/ffmpeg\\) does not run$`), {
      name,
      ffmpeg: '/nonexistent/ffmpeg',
    });
  }
  // No ffmpeg on PATH at all (a fresh process whose PATH holds only node):
  const dir = mkdtempSync(join(tmpdir(), 'clap-no-ffmpeg-'));
  try {
    symlinkSync(process.execPath, join(dir, 'node'));
    writeFileSync(join(dir, 'gsm.wav'), cases[0][1]);
    const script = `import { decodeAudio } from ${JSON.stringify(new URL('../../src/audio/index.ts', import.meta.url).href)};
      decodeAudio(process.argv[1]).then(() => console.log('decoded'), (e) => console.log(e.message));`;
    const env = { PATH: dir, HOME: process.env.HOME ?? dir };
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, join(dir, 'gsm.wav')], {
      env,
      cwd: ROOT,
    });
    assert.match(
      out.toString(),
      /gsm\.wav: WAV codec GSM 6\.10 is not decoded natively; .*; install ffmpeg \(or set CLAP_FFMPEG\) to decode it\n$/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
