/**
 * What CPU this is and which of onnxruntime's CPU kernels (MLAS) run on it — for reports (`npm run bench`),
 * never for numerics (int8's weight encoding is chosen by running ORT: quant.ts `exactInt8Weights`).
 * The kernel names follow MLAS's dispatch (onnxruntime/core/mlas/lib/platform.cpp): the best kernel
 * whose instruction set the CPU reports.
 */
import { readFileSync } from 'node:fs';
import { arch, availableParallelism, cpus } from 'node:os';

export interface CpuInfo {
  model: string;
  arch: string;
  cores: number;
  /** Instruction-set level, e.g. 'AVX-512 + VNNI + AMX', 'AVX2', 'NEON + dotprod'; 'unknown' without flags. */
  isa: string;
  /** MLAS kernels: float32 GEMM, and the two int8 GEMMs (uint8 activations × int8 or uint8 weights). */
  kernels: { fp32: string; u8s8: string; u8u8: string };
}

/** The CPU's feature flags (Linux /proc/cpuinfo `flags` / `Features`); empty where unreadable. */
export function cpuFlags(): Set<string> {
  try {
    const m = /^(?:flags|Features)\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return new Set(m ? m[1].trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

/** Describes a CPU from its architecture and flags (see CpuInfo). */
export function describeCpu(cpuArch: string, flags: ReadonlySet<string>): Pick<CpuInfo, 'isa' | 'kernels'> {
  const has = (...f: string[]): boolean => f.every((x) => flags.has(x));
  if (cpuArch === 'arm64') {
    const extras = ['asimddp', 'i8mm'].filter((f) => flags.has(f)).map((f) => (f === 'asimddp' ? 'dotprod' : f));
    const int8 = flags.has('asimddp') ? 'NEON dot product (exact)' : 'NEON (exact)';
    return { isa: ['NEON', ...extras].join(' + '), kernels: { fp32: 'NEON', u8s8: int8, u8u8: int8 } };
  }
  if (cpuArch !== 'x64' || flags.size === 0) return { isa: 'unknown', kernels: { fp32: 'unknown', u8s8: 'unknown', u8u8: 'unknown' } };
  const avx512core = has('avx512f', 'avx512bw', 'avx512dq', 'avx512vl');
  const amx = has('amx_tile', 'amx_int8');
  const isa = [
    avx512core ? 'AVX-512' : has('avx2', 'fma') ? 'AVX2' : has('avx') ? 'AVX' : 'SSE',
    ...(has('avx512_vnni') || has('avx_vnni') ? ['VNNI'] : []),
    ...(amx ? ['AMX'] : []),
  ].join(' + ');
  const fp32 = has('avx512f') ? 'AVX-512F' : has('avx2', 'fma') ? 'FMA3' : has('avx') ? 'AVX' : 'SSE2';
  const saturating = '(pmaddubsw: int16 pairs saturate)';
  let u8s8: string;
  if (amx) u8s8 = 'AMX (exact)';
  else if (avx512core) u8s8 = has('avx512_vnni') ? 'AVX-512 VNNI (exact)' : `AVX-512 ${saturating}`;
  else if (has('avx2', 'fma')) u8s8 = has('avx_vnni') ? 'AVX-VNNI (exact)' : `AVX2 ${saturating}`;
  else u8s8 = 'SSE';
  const u8u8 = has('avx_vnni_int8')
    ? 'AVX-VNNI-INT8 (exact)'
    : avx512core
      ? 'AVX-512 (exact)'
      : has('avx2')
        ? 'AVX2 (exact)'
        : 'SSE2 (exact)';
  return { isa, kernels: { fp32, u8s8, u8u8 } };
}

export function cpuInfo(): CpuInfo {
  return { model: cpus()[0]?.model ?? 'unknown', arch: arch(), cores: availableParallelism(), ...describeCpu(arch(), cpuFlags()) };
}
