import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resample, resampledLength, sincResampleKernel } from '../../src/audio/index.js';
import { resampleRange } from '../../src/audio/resample.js';

function noise(n: number, seed = 3): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 1.6;
  });
}

/**
 * torchaudio 0.13's algorithm written out literally (dense kernel with all 2·width + orig taps per
 * phase, zero padding, strided conv with sequential float32 FMA) — the trimmed polyphase
 * implementation must agree with it bit-for-bit.
 */
function denseTorchaudio(x: Float32Array, origFreq: number, newFreq: number): Float32Array {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const g = gcd(origFreq, newFreq);
  const orig = origFreq / g;
  const nw = newFreq / g;
  const lpw = 6;
  const base = Math.min(orig, nw) * 0.99;
  const width = Math.ceil((lpw * orig) / base);
  const K = 2 * width + orig;
  const kernel: number[][] = [];
  for (let i = 0; i < nw; i++) {
    const row: number[] = [];
    for (let k = 0; k < K; k++) {
      let t = (Math.fround(-i / nw) + (k - width) / orig) * base;
      t = Math.min(lpw, Math.max(-lpw, t));
      const w = Math.cos((t * Math.PI) / lpw / 2) ** 2;
      t *= Math.PI;
      const sinc = t === 0 ? 1 : Math.sin(t) / t;
      row.push(Math.fround(sinc * (w * (base / orig))));
    }
    kernel.push(row);
  }
  const padded = new Float32Array(x.length + 2 * width + orig);
  padded.set(x, width);
  const target = Math.ceil((nw * x.length) / orig);
  const out = new Float32Array(target);
  for (let j = 0; j < target; j++) {
    const b = Math.floor(j / nw);
    const p = j % nw;
    let acc = 0;
    for (let k = 0; k < K; k++) acc = Math.fround(acc + kernel[p][k] * padded[b * orig + k]);
    out[j] = acc;
  }
  return out;
}

test('trimmed polyphase resampling equals the literal dense torchaudio algorithm bit-for-bit', () => {
  const x = noise(3000);
  for (const [a, b] of [
    [16000, 44100],
    [48000, 44100],
    [22050, 44100],
    [44100, 16000],
    [8000, 44100],
    [3, 7],
    [96000, 44100],
  ]) {
    assert.deepEqual(resample(x, a, b), denseTorchaudio(x, a, b), `${a} → ${b}`);
  }
});

test('output length is ceil(new·len/orig) with gcd-reduced rates (manifest lengths)', () => {
  assert.equal(resampledLength(61279, 16000, 44100), 168901);
  assert.equal(resampledLength(162572, 48000, 44100), 298728 / 2);
  assert.equal(resampledLength(79559, 22050, 44100), 159118);
  assert.equal(resampledLength(1, 48000, 44100), 1);
  assert.equal(resample(noise(10), 44100, 44100).length, 10);
});

test('kernel geometry matches torchaudio (gcd reduction, width, taps)', () => {
  const k = sincResampleKernel(16000, 44100);
  assert.equal(k.origFreq, 160);
  assert.equal(k.newFreq, 441);
  assert.equal(k.width, 7);
  assert.equal(k.denseTaps, 174);
  const k2 = sincResampleKernel(48000, 44100);
  assert.deepEqual([k2.origFreq, k2.newFreq, k2.width], [160, 147, 7]);
  // nonzero taps per phase: about 2·lpw·orig/base
  for (let p = 0; p < k.newFreq; p++) assert.ok(k.count[p] >= 12 && k.count[p] <= 14);
  // co-prime rates stay cheap: only nonzero taps are stored
  const odd = sincResampleKernel(44099, 44100);
  assert.equal(odd.newFreq, 44100);
  assert.ok(odd.taps.length < 44100 * 16);
});

test('any output range equals the same slice of the full resample, reading the signal only within its bounds', () => {
  const x = noise(20000, 11);
  for (const [a, b] of [
    [16000, 44100],
    [48000, 44100],
    [44100, 22050],
  ]) {
    const full = resample(x, a, b);
    const kernel = sincResampleKernel(a, b);
    const signal = {
      length: x.length,
      read: (s: number, c: number): Float32Array => {
        assert.ok(s >= 0 && c > 0 && s + c <= x.length, `read(${s}, ${c}) outside the signal`);
        return x.slice(s, s + c);
      },
    };
    for (const [s, c] of [
      [0, 1],
      [0, 500],
      [1, 999],
      [Math.floor(full.length / 2), 4321],
      [full.length - 7, 7],
      [full.length - 3000, 3000],
    ]) {
      assert.deepEqual(resampleRange(kernel, signal, s, c), full.subarray(s, s + c), `${a}→${b} [${s}, ${s + c})`);
    }
  }
});

test('a band-limited sine survives resampling', () => {
  const x = Float32Array.from({ length: 16000 }, (_, i) => Math.sin((2 * Math.PI * 440 * i) / 16000));
  const y = resample(x, 16000, 44100);
  let err = 0;
  for (let i = 2000; i < y.length - 2000; i++) err = Math.max(err, Math.abs(y[i] - Math.sin((2 * Math.PI * 440 * i) / 44100)));
  assert.ok(err < 2e-3, `max error ${err}`);
});
