/**
 * The fixture sets are present and are the ones the references wrote: checkpoints match the sha256 recorded in
 * each set's config.json / manifest.json, and every array the manifest lists exists with its dtype and shape.
 * Parity tests never skip: without this, a missing or edited fixture would pass as "nothing to compare".
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURE_SETS, FIXTURES_ROOT } from './helpers/fixtures.js';
import { readNpyHeader } from './helpers/npy.js';

interface Manifest {
  arrays: Record<string, { dtype: string; shape: number[] }>;
  variants?: Record<string, { model_dir: string; safetensors_sha256: string; safetensors_bytes: number }>;
}
interface Config {
  checkpoints?: Record<string, { sha256: string; bytes: number }>;
}

const NPY_DTYPES: Record<string, string[]> = {
  float32: ['<f4'],
  float64: ['<f8'],
  int64: ['<i8'],
  int32: ['<i4'],
  bool: ['|b1'],
  uint8: ['|u1'],
};

function json<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

/** Every file whose checksum the set records, as [path, sha256, bytes]. */
function recordedFiles(dir: string): [string, string, number][] {
  const config = json<Config>(join(dir, 'config.json'));
  const manifest = json<Manifest>(join(dir, 'manifest.json'));
  const files: [string, string, number][] = Object.entries(config.checkpoints ?? {}).map(([name, c]) => [
    join(dir, name),
    c.sha256,
    c.bytes,
  ]);
  for (const v of Object.values(manifest.variants ?? {})) {
    files.push([join(dir, v.model_dir, 'model.safetensors'), v.safetensors_sha256, v.safetensors_bytes]);
  }
  return files;
}

for (const set of FIXTURE_SETS) {
  const dir = join(FIXTURES_ROOT, set);
  test(`fixture set ${set}: present, checkpoints match their recorded sha256, every listed array has its dtype and shape`, () => {
    assert.ok(existsSync(dir), `${dir} is missing: the parity tests need ../shared/fixtures beside the checkout`);
    const files = recordedFiles(dir);
    assert.ok(files.length > 0, `${set} records no checksums`);
    for (const [path, sha, bytes] of files) {
      assert.equal(statSync(path).size, bytes, `${path}: size differs from the recorded one`);
      assert.equal(createHash('sha256').update(readFileSync(path)).digest('hex'), sha, `${path}: sha256 differs from the recorded one`);
    }
    const { arrays } = json<Manifest>(join(dir, 'manifest.json'));
    assert.ok(Object.keys(arrays).length > 0, `${set}: manifest lists no arrays`);
    for (const [name, want] of Object.entries(arrays)) {
      const got = readNpyHeader(join(dir, name));
      assert.ok(NPY_DTYPES[want.dtype]?.includes(got.dtype), `${set}/${name}: dtype ${got.dtype}, manifest says ${want.dtype}`);
      assert.deepEqual(got.shape, want.shape, `${set}/${name}: shape`);
    }
  });
}
