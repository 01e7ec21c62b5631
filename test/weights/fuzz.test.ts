/** Deterministic mutation fuzzing: every corrupted file must load or fail with a one-line ClapError, quickly. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ClapError } from '../../src/errors.js';
import { encodePth, readPth } from '../../src/weights/pth.js';
import { encodeSafetensors, readSafetensors } from '../../src/weights/safetensors.js';
import { buildZip, readZip, zipEntryData } from '../../src/weights/zip.js';
import { sampleTensors } from './helpers.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

function survive(parse: () => unknown, what: string): void {
  const t0 = performance.now();
  try {
    parse();
  } catch (err) {
    assert.ok(err instanceof ClapError, `${what}: ${err instanceof Error ? err.stack : String(err)}`);
    assert.ok(!err.message.includes('\n'), `${what}: multi-line message`);
  }
  assert.ok(performance.now() - t0 < 2000, `${what}: too slow`);
}

test('random byte corruption of .pth and .safetensors files', () => {
  const rnd = rng(12345);
  const sources = [encodePth(sampleTensors()), readFileSync(join(DATA, 'torch-dtypes-p4.pth'))];
  const st = encodeSafetensors(sampleTensors());
  for (let it = 0; it < 600; it++) {
    const isSt = it % 4 === 3;
    const b = Buffer.from(isSt ? st : sources[it % 2]);
    for (let j = 1 + rnd(4); j > 0; j--) {
      const region = rnd(3);
      const pos =
        region === 0 ? rnd(Math.min(2500, b.length)) : region === 1 ? b.length - 1 - rnd(Math.min(1500, b.length)) : rnd(b.length);
      b[pos] = rnd(256);
    }
    survive(() => (isSt ? readSafetensors(b, 'fuzz') : readPth(b, 'fuzz')), `iteration ${it}`);
  }
});

test('random corruption of data.pkl inside a well-formed archive', () => {
  const rnd = rng(987);
  const file = join(DATA, 'torch-dtypes.pth');
  const zip = readZip(readFileSync(file), file);
  const entries = [...zip.entries.values()].map((e) => ({ name: e.name, data: zipEntryData(zip, e) }));
  const pi = entries.findIndex((e) => e.name.endsWith('/data.pkl'));
  const ops = [0x28, 0x74, 0x52, 0x62, 0x73, 0x75, 0x2e, 0x68, 0x71, 0x51, 0x4a, 0x4b, 0x58, 0x8c, 0x93, 0x94, 0x30, 0x31, 0x32];
  for (let it = 0; it < 600; it++) {
    const pkl = Buffer.from(entries[pi].data);
    for (let j = 1 + rnd(3); j > 0; j--) {
      const pos = rnd(pkl.length);
      const m = rnd(3);
      if (m === 0) pkl[pos] = rnd(256);
      else if (m === 1) pkl[pos] = ops[rnd(ops.length)];
      else pkl.copyWithin(pos, rnd(pkl.length), rnd(pkl.length));
    }
    const mutated = entries.map((e, i) => (i === pi ? { name: e.name, data: it % 5 === 0 ? pkl.subarray(0, rnd(pkl.length)) : pkl } : e));
    survive(() => readPth(Buffer.concat(buildZip(mutated)), 'fuzz.pth'), `iteration ${it}`);
  }
});
