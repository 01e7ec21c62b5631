import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bicubicResizeMatrix,
  foldIndex,
  foldToImage,
  frameCount,
  logMel,
  melFilterbank,
  PAPER_FRONTEND,
  periodicHann,
  powerSpectrogram,
  REFERENCE_FRONTEND,
  WINDOW_FRAMES,
  WINDOW_SAMPLES,
} from '../../src/audio/index.js';
import { hzToMelSlaney, melToHzSlaney } from '../../src/audio/mel.js';
import { powerSpectrogramFft, reflectPad } from '../../src/audio/stft.js';
import { decibels } from '../../src/audio/logmel.js';

function noise(n: number, seed = 5): Float64Array {
  let s = seed;
  return Float64Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

/** |DFT|² of x[start … start + n) × window, directly. */
function directPower(x: ArrayLike<number>, start: number, win: Float64Array): Float64Array {
  const n = win.length;
  const out = new Float64Array(n / 2 + 1);
  for (let k = 0; k <= n / 2; k++) {
    let re = 0,
      im = 0;
    for (let j = 0; j < n; j++) {
      const v = x[start + j] * win[j];
      re += v * Math.cos((2 * Math.PI * j * k) / n);
      im -= v * Math.sin((2 * Math.PI * j * k) / n);
    }
    out[k] = re * re + im * im;
  }
  return out;
}

test('FFT power spectrogram (WebAssembly, two frames per vector) equals a direct DFT, odd frame counts and chunks included', () => {
  for (const [n, frames] of [
    [8, 1],
    [64, 3],
    [1024, 2],
    [16, 2500], // several kernel calls (1024 frames each)
  ]) {
    const hop = n / 2;
    const x = Float32Array.from(noise((frames - 1) * hop + n, n));
    const got = powerSpectrogramFft(x, { nFft: n, hopLength: hop, winLength: n, center: false });
    assert.equal(got.length, frames * (n / 2 + 1));
    for (const f of new Set([0, frames >> 1, frames - 1])) {
      const want = directPower(x, f * hop, periodicHann(n));
      want.forEach((p, k) => {
        const v = got[f * (n / 2 + 1) + k];
        assert.ok(Math.abs(v - p) <= 1e-10 * Math.max(1, p), `n=${n} frame ${f} bin ${k}: ${v} vs ${p}`);
      });
    }
  }
});

test('STFT geometry: 965 frames for 7 s, periodic Hann, torch reflect padding', () => {
  assert.equal(frameCount(WINDOW_SAMPLES), WINDOW_FRAMES);
  assert.equal(WINDOW_FRAMES, 965);
  const w = periodicHann(1024);
  assert.equal(w[0], 0);
  assert.ok(Math.abs(w[512] - 1) < 1e-15);
  assert.ok(Math.abs(w[256] - 0.5) < 1e-15 && Math.abs(w[768] - 0.5) < 1e-15);
  assert.deepEqual(Array.from(reflectPad(Float32Array.of(1, 2, 3, 4), 2)), [3, 2, 1, 2, 3, 4, 3, 2]);
  assert.deepEqual(Array.from(reflectPad(Float32Array.of(1, 2, 3, 4), 3)), [4, 3, 2, 1, 2, 3, 4, 3, 2, 1]);
  assert.throws(() => reflectPad(Float32Array.of(1, 2, 3, 4), 4), /reflect padding 4/);
});

test('mel filterbank: librosa Slaney scale, 64 bands from 50 Hz to 14 kHz at 32 kHz', () => {
  assert.ok(Math.abs(hzToMelSlaney(1000) - 15) < 1e-12);
  assert.ok(Math.abs(melToHzSlaney(hzToMelSlaney(5000)) - 5000) < 1e-9);
  assert.ok(Math.abs(hzToMelSlaney(500) - 7.5) < 1e-12);
  const fb = melFilterbank(REFERENCE_FRONTEND);
  assert.equal(fb.nMels, 64);
  assert.equal(fb.nBins, 513);
  const binHz = 32000 / 1024;
  assert.ok(fb.start[0] * binHz > 50 && fb.start[0] * binHz < 100);
  const last = fb.start[63] + fb.weights[63].length - 1;
  assert.ok(last * binHz < 14000 && last * binHz > 13000, `last bin ${last}`);
  for (let m = 0; m < 64; m++) {
    assert.ok(fb.weights[m].length > 0);
    for (const v of fb.weights[m]) assert.ok(v > 0 && Math.fround(v) === v);
  }
  // bands get wider (and lower) with frequency: Slaney area normalisation
  assert.ok(fb.weights[63].length > fb.weights[10].length);
  assert.ok(Math.max(...fb.weights[63]) < Math.max(...fb.weights[10]));
});

test('logMel: [965][64] time-major, silence is −100 dB, topDb clips, paper variant differs', () => {
  const silent = logMel(new Float32Array(WINDOW_SAMPLES));
  assert.equal(silent.length, 965 * 64);
  assert.ok(silent.every((v) => v === -100));
  const x = Float32Array.from({ length: WINDOW_SAMPLES }, (_, i) => 0.1 * Math.sin((2 * Math.PI * 1000 * i) / 44100));
  const ref = logMel(x);
  // a 1 kHz tone: the loudest band in every frame is the same; 1 kHz at 44.1 kHz is 725.6 Hz on the 32 kHz filterbank
  const fb = melFilterbank(REFERENCE_FRONTEND);
  const row = Array.from(ref.subarray(400 * 64, 401 * 64));
  const peak = row.indexOf(Math.max(...row));
  const bin = 1000 / (44100 / 1024);
  assert.ok(fb.start[peak] <= bin && bin <= fb.start[peak] + fb.weights[peak].length, `peak band ${peak}`);
  const clipped = logMel(x, { ...REFERENCE_FRONTEND, topDb: 80 });
  const max = Math.max(...ref);
  assert.ok(clipped.every((v) => v >= Math.fround(max - 80)));
  assert.ok(clipped.some((v) => v === Math.fround(max - 80)));
  const paper = logMel(x, PAPER_FRONTEND);
  assert.equal(paper.length, ref.length);
  assert.notDeepEqual(paper, ref);
  assert.equal(PAPER_FRONTEND.sampleRate, 44100);
  assert.equal(PAPER_FRONTEND.fmax, 8000);
});

test("the 'reference' (float32 conv) and 'fft' STFTs agree to float32 rounding", () => {
  const x = Float32Array.from(noise(44100 * 2, 9), (v) => v * 0.5);
  const fast = powerSpectrogram(x);
  const exact = powerSpectrogram(x, { ...REFERENCE_FRONTEND, stft: 'reference' });
  let max = 0,
    err = 0;
  for (let i = 0; i < fast.length; i++) {
    max = Math.max(max, exact[i]);
    err = Math.max(err, Math.abs(fast[i] - exact[i]));
  }
  assert.ok(err <= 1e-5 * max, `${err} vs max ${max}`);
});

test('bicubic matrix: rows sum to 1, identity for equal sizes, last row just below the border', () => {
  const m = bicubicResizeMatrix(965, 1024);
  for (let i = 0; i < 1024; i++) {
    let s = 0;
    for (let j = 0; j < 965; j++) s += m[i * 965 + j];
    assert.ok(Math.abs(s - 1) < 1e-6, `row ${i} sums to ${s}`);
  }
  assert.equal(m[0], 1); // output 0 = input 0
  const id = bicubicResizeMatrix(5, 5);
  for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) assert.equal(id[i * 5 + j], i === j ? 1 : 0);
  // the last output sits just below input 964 (float32 scale, see bicubic.ts): weight mostly on 964
  const last = Array.from(m.subarray(1023 * 965, 1024 * 965));
  assert.ok(last[964] > 0.999 && last[964] < 1 && last[963] > 0);
});

test('fold: image row = chunk·64 + mel, column = frame within the 256-frame chunk', () => {
  const resized = Float32Array.from({ length: 1024 * 64 }, (_, i) => i);
  const img = foldToImage(resized);
  for (const [f, m] of [
    [0, 0],
    [255, 63],
    [256, 0],
    [700, 17],
    [1023, 63],
  ]) {
    const { row, col } = foldIndex(f, m);
    assert.equal(row, Math.floor(f / 256) * 64 + m);
    assert.equal(col, f % 256);
    assert.equal(img[row * 256 + col], resized[f * 64 + m]);
  }
});

test('decibels (WebAssembly log10, Math.log10 where it cannot vouch) equals the float32 formula for every value', () => {
  const special = [
    0,
    1e-10,
    Math.fround(1e-10),
    1e-45,
    1.1754943508222875e-38,
    1,
    10,
    100,
    0.1,
    2,
    3.4028234663852886e38,
    Infinity,
    NaN,
    -1,
  ];
  let s = 12345;
  const random = Array.from({ length: 200_000 }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return 10 ** ((s / 2 ** 32) * 30 - 15);
  });
  const powers = Float32Array.from([...special, ...random, ...Array.from({ length: 40 }, (_, i) => 10 ** (i - 20))]);
  for (const config of [REFERENCE_FRONTEND, { ...REFERENCE_FRONTEND, ref: 2, amin: 1e-12 }]) {
    const amin = Math.fround(config.amin);
    const refDb = 10 * Math.log10(Math.max(config.amin, config.ref));
    const want = powers.map((p) => {
      const db = Math.fround(10 * Math.fround(Math.log10(Math.max(p, amin))));
      return refDb !== 0 ? Math.fround(db - refDb) : db;
    });
    const got = decibels(powers, config);
    for (let i = 0; i < powers.length; i++)
      assert.ok(Object.is(got[i], want[i]), `power ${powers[i]} (ref ${config.ref}): ${got[i]} vs ${want[i]}`);
  }
});
