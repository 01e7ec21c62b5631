/** Synthetic training data for the train tests (tones of four kinds, captions naming them) and a gradient check of a whole loss. */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { encodeWav } from '../../src/audio/index.js';
import { emitOnnx, grad, type HostTensor, Session, type Value } from '../../src/engine/index.js';
import type { ClapConfig } from '../../src/models/clap/index.js';
import { type ContrastiveGraph, paramGroup } from '../../src/tasks/train/model.js';
import { rng } from '../engine/gradcheck.js';

export const TONE_CLASSES: Record<string, number> = { low: 220, middle: 660, high: 1980, buzz: 0 };

/** Writes `perClass` WAVs per class (2–6 s, 22.05 kHz) and manifest.csv (path,caption,label); returns the manifest path. */
export function writeToneDataset(dir: string, perClass = 16): string {
  mkdirSync(dir, { recursive: true });
  const rows = ['path,caption,label'];
  let s = 1;
  for (const [name, f] of Object.entries(TONE_CLASSES)) {
    for (let i = 0; i < perClass; i++) {
      const sr = 22050;
      const n = Math.round(sr * (2 + (i % 5)));
      const x = new Float32Array(n);
      for (let k = 0; k < n; k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const noise = (s / 2 ** 32 - 0.5) * 0.02;
        x[k] = (f ? 0.3 * Math.sin((2 * Math.PI * f * (1 + 0.01 * i) * k) / sr) : 0.3 * (k % 50 < 25 ? 1 : -1)) + noise;
      }
      const file = `${name}_${i}.wav`;
      writeFileSync(join(dir, file), encodeWav([x], sr, 'pcm16'));
      rows.push(`${file},"a ${name} tone",${name}`);
    }
  }
  const manifest = join(dir, 'manifest.csv');
  writeFileSync(manifest, `${rows.join('\n')}\n`);
  return manifest;
}

/**
 * The contrastive loss's gradient of every parameter group (audio, text, projections, temperature) along one
 * random direction per group (scaled like each parameter) against central finite differences in float32:
 * relative error under 5%.
 */
export async function checkGroupGradients(
  cg: ContrastiveGraph,
  cfg: ClapConfig,
  feeds: Record<string, HostTensor>,
  t: TestContext,
  o: { h?: number; tolerance?: number } = {},
): Promise<void> {
  const g = cg.graph;
  const params = [...g.params.values()].map((p) => p.value).filter((v) => v.dtype === 'float32');
  const gs = grad(cg.loss, params, { unused: 'undefined' });
  const live: { p: Value; g: Value }[] = [];
  params.forEach((p, i) => {
    if (gs[i]) live.push({ p, g: gs[i]! });
  });
  const names = new Set(live.map((x) => x.p.name));
  const model = emitOnnx(g, {
    outputs: [{ name: 'loss', value: cg.loss }, ...live.map((x, i) => ({ name: `g${i}`, value: x.g }))],
    paramsAsInputs: (n) => names.has(n),
  });
  const s = await Session.fromBytes(model, { threads: 2 });
  const base = Object.fromEntries(live.map((x) => [x.p.name, g.params.get(x.p.name)!.tensor]));
  const run = async (over: Record<string, HostTensor>): Promise<Record<string, HostTensor>> => s.run({ ...feeds, ...base, ...over });
  const r0 = await run({});
  const groups = new Map<string, number[]>();
  live.forEach((x, i) => {
    const grp = paramGroup(x.p.name, cfg);
    groups.set(grp, [...(groups.get(grp) ?? []), i]);
  });
  const rnd = rng(21);
  const h = o.h ?? 2e-3;
  for (const [grp, idx] of groups) {
    const dirs = idx.map((i) => {
      const p = base[live[i].p.name].data as Float32Array;
      let rms = 0;
      for (const v of p) rms += v * v;
      rms = Math.sqrt(rms / p.length) || 1;
      return Float32Array.from(p, () => (rnd() * 2 - 1) * rms);
    });
    let analytic = 0;
    idx.forEach((i, k) => {
      const gv = r0[`g${i}`].data as Float32Array;
      for (let j = 0; j < gv.length; j++) analytic += gv[j] * dirs[k][j];
    });
    const at = async (sign: number): Promise<number> => {
      const over: Record<string, HostTensor> = {};
      idx.forEach((i, k) => {
        const p = base[live[i].p.name];
        over[live[i].p.name] = { ...p, data: Float32Array.from(p.data as Float32Array, (v, j) => v + sign * h * dirs[k][j]) };
      });
      return Number((await run(over)).loss.data[0]);
    };
    const numeric = ((await at(1)) - (await at(-1))) / (2 * h);
    const rel = Math.abs(analytic - numeric) / Math.max(Math.abs(analytic), Math.abs(numeric), 1e-3);
    t.diagnostic(`${grp}: analytic ${analytic.toExponential(4)} numeric ${numeric.toExponential(4)} rel ${rel.toExponential(2)}`);
    assert.ok(rel < (o.tolerance ?? 0.05), `${grp}: analytic ${analytic} vs numeric ${numeric}`);
  }
  assert.deepEqual([...groups.keys()].sort(), ['audio', 'audio_projection', 'temperature', 'text', 'text_projection']);
  await s.release();
}
