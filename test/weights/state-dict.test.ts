import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '../../src/engine/tensor.js';
import { GPT2_HARMLESS_UNEXPECTED, checkStateDict, take, withPrefix } from '../../src/weights/state-dict.js';
import { throwsClap } from './helpers.js';

const t = (shape: number[], dtype: HostTensor['dtype'] = 'float32'): HostTensor => ({
  dtype,
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
});

const sd = new Map<string, HostTensor>([
  ['h.0.attn.c_attn.weight', t([32, 96])],
  ['h.0.attn.c_attn.bias', t([96])],
  ['h.0.attn.bias', t([1, 1, 1024, 1024].map(() => 1))],
  ['h.0.attn.masked_bias', t([])],
  ['wte.weight', t([50257, 32])],
  ['extra.thing', t([3])],
]);

test('checkStateDict names missing, unexpected and mismatched keys in one line', () => {
  const expected = [
    { name: 'h.0.attn.c_attn.weight', shape: [32, 96] },
    { name: 'h.0.attn.c_attn.bias', shape: [97] },
    { name: 'wte.weight', shape: [-1, 32], dtype: 'float16' as const },
    { name: 'ln_f.weight', shape: [32] },
  ];
  throwsClap(
    () => checkStateDict(sd, expected, { file: 'clap.pth', ignoreUnexpected: GPT2_HARMLESS_UNEXPECTED }),
    'clap.pth',
    /1 missing \(ln_f\.weight\)/,
    /1 unexpected \(extra\.thing\)/,
    /h\.0\.attn\.c_attn\.bias: expected \[97\], got \[96\]/,
    /wte\.weight: expected float16, got float32/,
  );
  const report = checkStateDict(sd, expected, { throwOnError: false, ignoreUnexpected: GPT2_HARMLESS_UNEXPECTED });
  assert.equal(report.ok, false);
  assert.deepEqual(report.missing, ['ln_f.weight']);
  assert.deepEqual(report.unexpected, ['extra.thing']);
  assert.deepEqual(report.ignored, ['h.0.attn.bias', 'h.0.attn.masked_bias']);
  assert.deepEqual(report.shapeMismatches, [{ name: 'h.0.attn.c_attn.bias', expected: [97], actual: [96] }]);
  // Without the ignore list the GPT-2 buffers are unexpected; c_attn.bias is never mistaken for one.
  const strict = checkStateDict(sd, expected, { throwOnError: false });
  assert.deepEqual(strict.unexpected, ['h.0.attn.bias', 'h.0.attn.masked_bias', 'extra.thing']);
});

test('checkStateDict passes when everything matches (records accepted too)', () => {
  const rec = Object.fromEntries(sd);
  const expected = [...sd].map(([name, v]) => ({ name, shape: v.shape }));
  const report = checkStateDict(rec, expected);
  assert.equal(report.ok, true);
  assert.equal(report.message, '');
  assert.equal(checkStateDict(sd, expected.slice(1), { allowMissing: [/^nothing/], allowUnexpected: true }).ok, true);
  assert.equal(checkStateDict(sd, [...expected, { name: 'opt', shape: [1] }], { allowMissing: ['opt'] }).ok, true);
});

test('long key lists are shortened', () => {
  const many = Array.from({ length: 30 }, (_, i) => ({ name: `k${i}`, shape: [1] }));
  throwsClap(() => checkStateDict(new Map(), many), undefined, /30 missing \(k0, k1, .*k7, … and 22 more\)/);
});

test('take returns the tensor or names the key', () => {
  assert.equal(take(sd, 'wte.weight', [50257, 32]), sd.get('wte.weight'));
  assert.equal(take(Object.fromEntries(sd), 'wte.weight', [-1, 32], { dtype: ['float32', 'float16'] }), sd.get('wte.weight'));
  throwsClap(() => take(sd, 'lm_head.weight', [1], { file: 'clapcap.pth' }), 'clapcap.pth', /no tensor "lm_head\.weight"/);
  throwsClap(() => take(sd, 'wte.weight', [50257, 64]), undefined, /"wte\.weight" has shape \[50257, 32\], expected \[50257, 64\]/);
  throwsClap(() => take(sd, 'wte.weight', [50257]), undefined, /expected \[50257\]/);
  throwsClap(() => take(sd, 'wte.weight', undefined, { dtype: 'int64' }), undefined, /is float32, expected int64/);
  throwsClap(() => take({}, 'toString'), undefined, /no tensor "toString"/);
});

test('withPrefix strips a module prefix', () => {
  const sub = withPrefix(sd, 'h.0.attn.');
  assert.deepEqual([...sub.keys()], ['c_attn.weight', 'c_attn.bias', 'bias', 'masked_bias']);
});
