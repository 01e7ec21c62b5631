/** The README's library example is examples/quickstart.ts verbatim, and it runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fixturePath } from './helpers/fixtures.js';

const root = fileURLToPath(new URL('..', import.meta.url));

test('README shows examples/quickstart.ts verbatim', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const example = readFileSync(`${root}examples/quickstart.ts`, 'utf8');
  assert.ok(readme.includes(example.trim()), 'README must embed examples/quickstart.ts');
});

test('README shows examples/browser.html verbatim (test/web/demo.test.ts runs it in Chromium)', () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  assert.ok(readme.includes(readFileSync(`${root}examples/browser.html`, 'utf8').trim()), 'README must embed examples/browser.html');
});

test('examples/quickstart.ts runs against the package build', async () => {
  // The example imports 'clap-ts' (the package itself, resolved through package.json "exports" → dist).
  const out = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      [
        '--import',
        'tsx',
        `${root}examples/quickstart.ts`,
        fixturePath('clap.pth'),
        fixturePath('inputs', 'audio', 'vowel_16k.wav'),
        fixturePath('inputs', 'audio', 'speech_22k.wav'),
      ],
      { cwd: root, env: { ...process.env, CLAP_THREADS: '1' } },
      (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)),
    );
  });
  assert.match(out, /vowel_16k\.wav: (dog barking|rain|speech|siren) \(\d\.\d\d\)/);
  assert.match(out, /score/);
});

test("README's layout table lists every top-level folder and every src/ folder, and only those", () => {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const table = readme.slice(readme.indexOf('\n## Layout\n'), readme.indexOf('\nA layer imports only'));
  const listed = new Set([...table.matchAll(/^\| ([^|]+)\|/gm)].flatMap((m) => [...m[1].matchAll(/`([^`]+)\/`/g)].map((f) => f[1])));
  const tracked = execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8' }).split('\n');
  const folders = new Set(tracked.flatMap((f) => f.match(/^(src\/[^/]+|[^/]+)\//)?.slice(1) ?? []));
  assert.deepEqual([...listed].sort(), [...folders].sort());
});
