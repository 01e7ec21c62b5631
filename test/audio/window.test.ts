import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cropOffsetFor,
  decodeAudio,
  encodeWav,
  loadAudio,
  openAudioStream,
  PyRandom,
  resample,
  tileToLength,
  windowsOf,
  WINDOW_SAMPLES,
} from '../../src/audio/index.js';
import { arraySignal, modelSignal } from '../../src/audio/signal.js';
import { MemorySource, type FrameSource } from '../../src/audio/source.js';

const ramp = (n: number, scale = 1e-6): Float32Array => Float32Array.from({ length: n }, (_, i) => i * scale);

test('short signals are tiled ceil(308700/len) times and cut, exactly 7 s is factor 1', () => {
  const x = ramp(100000);
  const t = tileToLength(x);
  assert.equal(t.length, WINDOW_SAMPLES);
  assert.equal(t[99999], x[99999]);
  assert.equal(t[100000], x[0]);
  assert.equal(t[308699], x[308699 - 300000]);
  const [w] = windowsOf(arraySignal(x));
  assert.equal(w.repeats, 4);
  assert.equal(w.offset, 0);
  assert.ok(Math.abs(w.endS - 100000 / 44100) < 1e-12);
  const [exact] = windowsOf(arraySignal(ramp(WINDOW_SAMPLES)));
  assert.equal(exact.repeats, 1);
  assert.deepEqual(exact.samples, ramp(WINDOW_SAMPLES));
  const [one] = windowsOf(arraySignal(Float32Array.of(0.25)));
  assert.ok(one.samples.every((v) => v === 0.25));
});

test('crop modes: start (default), center, random (Python random), explicit offset', () => {
  const n = WINDOW_SAMPLES + 1001;
  const sig = arraySignal(ramp(n));
  const first = (opts: Parameters<typeof windowsOf>[1]): number => [...windowsOf(sig, opts)][0].offset;
  assert.equal(first({}), 0);
  assert.equal(first({ crop: 'center' }), 500);
  assert.equal(first({ cropOffset: 1001 }), 1001);
  assert.equal(first({ crop: 'random', seed: 7 }), new PyRandom(7).randrange(1001));
  assert.equal(first({ crop: 'random', seed: 7 }), first({ crop: 'random', seed: 7 }));
  const w = [...windowsOf(sig, { cropOffset: 77 })][0];
  assert.equal(w.samples[0], Math.fround(77e-6));
  assert.equal(w.repeats, 1);
  // msclap's randrange(len - 308700) never picks the last offset
  for (let s = 0; s < 50; s++) assert.ok(cropOffsetFor(WINDOW_SAMPLES + 3, { crop: 'random', seed: s }) < 3);
});

test('sliding windows: hop grid, tiled tail, end-aligned tail, dropped tail', () => {
  const n = 3 * WINDOW_SAMPLES + 2 * 44100; // 23 s
  const sig = arraySignal(ramp(n));
  const tiled = [...windowsOf(sig, { sliding: true })];
  assert.deepEqual(
    tiled.map((w) => w.startS),
    [0, 7, 14, 21],
  );
  assert.deepEqual(
    tiled.map((w) => w.repeats),
    [1, 1, 1, 4],
  );
  assert.equal(tiled[3].samples[2 * 44100], tiled[3].samples[0]);
  assert.ok(Math.abs(tiled[3].endS - 23) < 1e-12);
  const end = [...windowsOf(sig, { sliding: { tail: 'end' } })];
  assert.deepEqual(
    end.map((w) => w.offset),
    [0, WINDOW_SAMPLES, 2 * WINDOW_SAMPLES, n - WINDOW_SAMPLES],
  );
  assert.equal([...windowsOf(sig, { sliding: { tail: 'drop' } })].length, 3);
  const overlap = [...windowsOf(sig, { sliding: { hopS: 3.5, tail: 'drop' } })];
  assert.deepEqual(
    overlap.map((w) => w.startS),
    [0, 3.5, 7, 10.5, 14],
  );
  assert.deepEqual(
    overlap.map((w) => w.index),
    [0, 1, 2, 3, 4],
  );
  // a tail shorter than minTailS (1 s) is dropped; a short clip is one tiled window as in msclap
  assert.equal([...windowsOf(arraySignal(ramp(WINDOW_SAMPLES + 20000)), { sliding: true })].length, 1);
  assert.equal([...windowsOf(arraySignal(ramp(1000)), { sliding: true })].length, 1);
});

test("channels: 'reference' concatenates resampled channels, 'mean' averages them", async () => {
  const l = Float32Array.from({ length: 48000 }, (_, i) => Math.sin(i * 0.01) * 0.5);
  const r = Float32Array.from({ length: 48000 }, (_, i) => Math.cos(i * 0.003) * 0.25);
  const input = { samples: [l, r], sampleRate: 48000 };
  const ref = await loadAudio(input, { channels: 'reference' });
  const l44 = resample(l, 48000, 44100);
  const r44 = resample(r, 48000, 44100);
  assert.equal(ref.signalLength, 2 * 44100);
  assert.deepEqual(ref.windows[0].subarray(0, 44100), l44);
  assert.deepEqual(ref.windows[0].subarray(44100, 88200), r44);
  assert.deepEqual(ref.windows[0].subarray(88200, 132300), l44);
  const mean = await loadAudio(input);
  assert.equal(mean.signalLength, 44100);
  assert.equal(mean.channels, 2);
  assert.equal(mean.durationS, 1);
  let err = 0;
  for (let i = 0; i < 44100; i++) err = Math.max(err, Math.abs(mean.windows[0][i] - (l44[i] + r44[i]) / 2));
  assert.ok(err < 1e-6, `mean-then-resample vs resample-then-mean ${err}`);
  // mono input: both modes identical
  const mono = { samples: l, sampleRate: 48000 };
  assert.deepEqual((await loadAudio(mono)).windows, (await loadAudio(mono, { channels: 'reference' })).windows);
});

/** A source that records the largest read, to check that sliding never loads the whole signal. */
class SpySource implements FrameSource {
  maxRead = 0;
  constructor(private readonly inner: FrameSource) {}
  get name(): string {
    return this.inner.name;
  }
  get sampleRate(): number {
    return this.inner.sampleRate;
  }
  get numChannels(): number {
    return this.inner.numChannels;
  }
  get numFrames(): number {
    return this.inner.numFrames;
  }
  read(start: number, count: number): Float32Array[] {
    this.maxRead = Math.max(this.maxRead, count);
    return this.inner.read(start, count);
  }
  close(): void {
    this.inner.close();
  }
}

test('sliding over a long signal reads only one window (plus filter margin) at a time', () => {
  const sr = 48000;
  const n = 120 * sr; // 2 minutes
  const ch = Float32Array.from({ length: n }, (_, i) => ((i * 7919) % 1000) / 2000 - 0.25);
  const spy = new SpySource(new MemorySource('long', sr, [ch, ch]));
  let count = 0;
  for (const w of windowsOf(modelSignal(spy, 'mean'), { sliding: true })) {
    assert.equal(w.samples.length, WINDOW_SAMPLES);
    count++;
  }
  assert.equal(count, 18); // 17 full windows (119 s) + 1 s tail, tiled
  assert.ok(spy.maxRead < 7 * sr + 400, `largest read ${spy.maxRead} frames`);
});

test('a WAV file streams window by window (file stays on disk)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-audio-stream-'));
  try {
    const path = join(dir, 'long.wav');
    const x = Float32Array.from({ length: 30 * 22050 }, (_, i) => Math.sin(i * 0.05) * 0.3);
    writeFileSync(path, encodeWav([x], 22050, 'pcm16'));
    const stream = await openAudioStream(path, { sliding: { hopS: 7 } });
    assert.equal(stream.durationS, 30);
    assert.equal(stream.signalLength, 30 * 44100);
    const starts = [...stream.windows()].map((w) => w.startS);
    assert.deepEqual(starts, [0, 7, 14, 21, 28]);
    // each window equals the same stretch of the fully resampled signal
    const windows = (await loadAudio(path, { sliding: true })).windows;
    const full = resample((await decodeAudio(path)).channels[0], 22050, 44100);
    for (let k = 0; k < 4; k++) assert.deepEqual(windows[k], full.subarray(k * WINDOW_SAMPLES, (k + 1) * WINDOW_SAMPLES), `window ${k}`);
    assert.deepEqual(windows[4], tileToLength(full.subarray(4 * WINDOW_SAMPLES)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
