import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as pkg from '../src/index.js';

const root = fileURLToPath(new URL('..', import.meta.url));

test('the package root exports the library API, and not the engine', () => {
  for (const name of [
    'Clap',
    'ClapError',
    'loadWeights',
    'savePth',
    'decodeAudio',
    'Gpt2Tokenizer',
    'CLAP_2023',
    'ClapIndex',
    'ClapCapDecoder',
    'ClapCap',
    'isInputError',
    'loadHearModel',
  ]) {
    assert.ok(name in pkg, name);
  }
  assert.equal(typeof pkg.Clap.load, 'function');
  assert.ok(!('engine' in pkg), 'the engine is the unstable subpath clap-ts/engine, not part of the root API');
});

test('clap-ts/engine resolves through package.json "exports" to the built engine', async () => {
  // A self-reference: resolved like a consumer's import, to dist/ (npm test builds it first).
  const engine = await import('clap-ts/engine');
  assert.equal(typeof engine.Graph, 'function');
  assert.equal(typeof engine.buildTrainStep, 'function');
});

test('npm pack ships the built library, the CLI and the docs — no tests, benches, scripts or CI files', () => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
  const files = (JSON.parse(out) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
  const unexpected = files.filter((f) => !/^(bin\/|dist\/src\/|dist\/web\/|docs\/|examples\/|README\.md$|LICENSE$|package\.json$)/.test(f));
  assert.deepEqual(unexpected, []);
  for (const need of [
    'bin/clap.js',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/cli/main.js',
    'dist/src/engine/index.js',
    'dist/web/index.html', // the page of clap serve
    'dist/web/assets/app.js',
    'dist/web/clap.js', // clap-ts/web, its onnxruntime-web build and the demo page
    'dist/web/ort/ort-wasm-simd-threaded.jsep.wasm',
    'dist/web/demo/index.html',
    'dist/src/web/index.d.ts',
    'README.md',
  ]) {
    assert.ok(files.includes(need), `${need} is packed`);
  }
});
