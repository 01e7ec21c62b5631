import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpuInfo, describeCpu } from '../../src/engine/cpu.js';

const flags = (s: string): Set<string> => new Set(s.split(' '));

test('describeCpu names the instruction-set level and the MLAS kernels as onnxruntime dispatches them', () => {
  const rome = describeCpu('x64', flags('sse4_1 sse4_2 avx avx2 fma f16c'));
  assert.equal(rome.isa, 'AVX2');
  assert.deepEqual(rome.kernels, { fp32: 'FMA3', u8s8: 'AVX2 (pmaddubsw: int16 pairs saturate)', u8u8: 'AVX2 (exact)' });
  const skylakeX = describeCpu('x64', flags('avx avx2 fma avx512f avx512bw avx512dq avx512vl'));
  assert.equal(skylakeX.isa, 'AVX-512');
  assert.match(skylakeX.kernels.u8s8, /saturate/);
  const cascade = describeCpu('x64', flags('avx avx2 fma avx512f avx512bw avx512dq avx512vl avx512_vnni'));
  assert.equal(cascade.isa, 'AVX-512 + VNNI');
  assert.equal(cascade.kernels.u8s8, 'AVX-512 VNNI (exact)');
  const sapphire = describeCpu(
    'x64',
    flags('avx avx2 fma avx512f avx512bw avx512dq avx512vl avx512_vnni avx_vnni amx_tile amx_int8 amx_bf16'),
  );
  assert.equal(sapphire.isa, 'AVX-512 + VNNI + AMX');
  assert.equal(sapphire.kernels.u8s8, 'AMX (exact)');
  assert.equal(describeCpu('x64', flags('avx avx2 fma avx_vnni')).kernels.u8s8, 'AVX-VNNI (exact)');
  assert.equal(describeCpu('arm64', flags('fp asimd asimddp i8mm')).isa, 'NEON + dotprod + i8mm');
  assert.equal(describeCpu('x64', new Set()).isa, 'unknown');
});

test('cpuInfo describes this machine', () => {
  const info = cpuInfo();
  assert.ok(info.model.length > 0 && info.cores >= 1);
  assert.equal(typeof info.isa, 'string');
});
