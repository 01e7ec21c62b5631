/**
 * Every error path exits: each command is spawned (bin/clap.js → dist) with a bad input and must end on
 * its own — no worker thread or handle left keeping the process alive after the error is printed.
 * The limit only tells a hang from a slow start on a loaded machine; it is not a speed assertion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeToneDataset } from '../tasks/train-helpers.js';
import { type ClapConfig, clapConfigToJson, randomClapStateDict, CLAP_PRESETS } from '../../src/models/clap/index.js';
import { randomClapCapWeights } from '../../src/tasks/caption/index.js';
import { savePth, saveSafetensors } from '../../src/weights/index.js';

const BIN = fileURLToPath(new URL('../../bin/clap.js', import.meta.url));
const HANG_S = 60;

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  err: string;
  hung: boolean;
}

function run(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, CLAP_THREADS: '1' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, HANG_S * 1000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, err, hung });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'clap-exit-'));
const manifest = writeToneDataset(join(dir, 'data'), 4);
const TINY = CLAP_PRESETS.tiny as ClapConfig;
// tiny CLAP weights with their config.json beside them (as `clap train` writes them)
mkdirSync(join(dir, 'clap'));
const weights = join(dir, 'clap', 'clap.safetensors');
await saveSafetensors(weights, randomClapStateDict(TINY, 5));
writeFileSync(join(dir, 'clap', 'config.json'), JSON.stringify(clapConfigToJson(TINY)));
const gpt = { vocabSize: 50257, nPositions: 48, nEmbd: 32, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
const clapcap = join(dir, 'clapcap.pth');
await savePth(clapcap, randomClapCapWeights({ gpt, prefixDim: TINY.dProj, prefixLength: 4, clipLength: 4, numLayers: 1 }));
const settings = join(dir, 'clapcap-settings.json');
writeFileSync(settings, JSON.stringify({ clapcap: { gpt2: { n_head: 2 } } }));
const badJson = join(dir, 'bad.json');
writeFileSync(badJson, '{"htsat": ');
const badWav = join(dir, 'data', 'broken.wav');
writeFileSync(badWav, 'RIFF....WAVEjunk');
const withBroken = join(dir, 'data', 'with-broken.csv');
writeFileSync(withBroken, `${readFileSync(manifest, 'utf8')}broken.wav,"a broken tone",broken\n`);
const onlyBroken = join(dir, 'data', 'only-broken.csv');
writeFileSync(onlyBroken, `path,caption\nbroken.wav,a\n${[1, 2, 3, 4, 5, 6].map((i) => `missing${i}.wav,b`).join('\n')}\n`);
const aFile = join(dir, 'a-file');
writeFileSync(aFile, 'not a folder');
const missing = join(dir, 'missing');

const contrastive = (...more: string[]): string[] => [
  'train',
  'contrastive',
  '--data',
  manifest,
  '--batch',
  '4',
  '--epochs',
  '1',
  '--workers',
  '1',
  '--threads',
  '1',
  ...more,
];
let outs = 0;
const out = (): string => join(dir, `run${outs++}`);

const LINUX = process.platform === 'linux';
const PROC_TRAIN_CASES: [string, string[], RegExp][] = [
  ['contrastive: --out under /proc', contrastive('--out', '/proc/clap-ts-exit/run', '--config', 'tiny'), /cannot create this folder/],
];
const PROC_CASES: [string, string[]][] = [
  ['export onnx: --out under /proc', ['export', 'onnx', '--weights', weights, '--out', '/proc/clap-ts-exit/model']],
  // A folder that exists but takes no files, even from root: fails before the first model is built.
  ['export onnx: --out not writable', ['export', 'onnx', '--weights', weights, '--out', '/proc/self']],
  ['index add: --db under /proc', ['index', 'add', join(dir, 'data'), '--db', '/proc/clap-ts-exit/db', '--weights', weights]],
];

/** [what, argv, what stderr's one line must say] */
const TRAIN_CASES: [string, string[], RegExp][] = [
  ['contrastive: unknown preset', contrastive('--out', out(), '--config', 'huge'), /huge: not a preset/],
  ['contrastive: --config not JSON', contrastive('--out', out(), '--config', badJson), /bad\.json: not valid JSON/],
  ['contrastive: missing --init', contrastive('--out', out(), '--init', `${missing}.pth`), /missing\.pth/],
  ['contrastive: --init not weights', contrastive('--out', out(), '--init', manifest), /manifest\.csv/],
  [
    'contrastive: --init of another kind (clapcap)',
    contrastive('--out', out(), '--init', clapcap),
    /audio_encoder|clapcap|caption_encoder/,
  ],
  ['contrastive: --init not matching --config', contrastive('--out', out(), '--init', weights, '--config', 'small'), /shape|config/],
  ['contrastive: missing --val', contrastive('--out', out(), '--val', `${missing}.csv`), /missing\.csv/],
  ['contrastive: --out is a file', contrastive('--out', aFile, '--config', 'tiny'), /a-file: (is a file|exists and is not a folder)/],
  ['contrastive: no readable clip', contrastive('--out', out(), '--config', 'tiny', '--data', onlyBroken), /0 readable training clips/],
  ['probe: no --weights', ['train', 'probe', '--data', manifest], /--weights/],
  ['probe: missing --weights file', ['train', 'probe', '--data', manifest, '--weights', `${missing}.pth`], /missing\.pth/],
  ['probe: unknown preset', ['train', 'probe', '--data', manifest, '--weights', weights, '--config', 'huge'], /huge/],
  ['probe: --weights of another kind', ['train', 'probe', '--data', manifest, '--weights', clapcap, '--workers', '1'], /audio encoder/],
  [
    'finetune: missing --weights file',
    ['train', 'finetune', '--data', manifest, '--weights', `${missing}.pth`, '--batch', '4', '--out', out()],
    /missing\.pth/,
  ],
  [
    'finetune: unknown preset',
    ['train', 'finetune', '--data', manifest, '--weights', weights, '--config', 'huge', '--batch', '4', '--out', out()],
    /huge/,
  ],
  [
    'finetune: --weights of another kind',
    ['train', 'finetune', '--data', manifest, '--weights', clapcap, '--batch', '4', '--out', out()],
    /audio encoder/,
  ],
  ['finetune: --out is a file', ['train', 'finetune', '--data', manifest, '--weights', weights, '--batch', '4', '--out', aFile], /a-file/],
  [
    'caption: missing --init',
    ['train', 'caption', '--data', manifest, '--clap', weights, '--init', `${missing}.pth`, '--out', out()],
    /missing\.pth/,
  ],
  [
    'caption: missing --clap',
    ['train', 'caption', '--data', manifest, '--clap', `${missing}.pth`, '--init', clapcap, '--clapcap-config', settings, '--out', out()],
    /missing\.pth/,
  ],
  [
    'caption: --clapcap-config not JSON',
    ['train', 'caption', '--data', manifest, '--clap', weights, '--init', clapcap, '--clapcap-config', badJson, '--out', out()],
    /bad\.json: not valid JSON/,
  ],
  ['train plot: missing run', ['train', 'plot', missing], /missing/],
  // Node's recursive mkdir loops forever where mkdir answers ENOENT under an existing parent (/proc).
  ...(LINUX ? PROC_TRAIN_CASES : []),
];

test('train: every error path prints one line and exits', async () => {
  const wrong: string[] = [];
  for (const [what, args, says] of TRAIN_CASES) {
    const r = await run(args);
    const lines = r.err.split('\n').filter((l) => l.startsWith('clap: '));
    if (r.hung) wrong.push(`${what}: still running ${HANG_S} s after: ${r.err}`);
    else if (r.code !== 1 && r.code !== 2) wrong.push(`${what}: exit code ${r.code} (${r.signal}): ${r.err}`);
    else if (lines.length !== 1 || !says.test(lines[0])) wrong.push(`${what}: wanted one line matching ${says}, got: ${r.err}`);
  }
  assert.deepEqual(wrong, []);
});

const OTHER_CASES: [string, string[]][] = [
  ['embed audio: broken file', ['embed', 'audio', badWav, '--weights', weights]],
  ['embed text: unknown preset', ['embed', 'text', 'a tone', '--weights', weights, '--config', 'huge']],
  ['classify: broken file', ['classify', badWav, '--labels', 'a,b', '--weights', weights]],
  ['caption: CLAP weights', ['caption', join(dir, 'data', 'low_0.wav'), '--weights', weights]],
  ['export onnx: missing weights', ['export', 'onnx', '--weights', `${missing}.pth`, '--out', out()]],
  ['convert: missing input', ['convert', `${missing}.pth`, join(dir, 'x.safetensors')]],
  ['eval: missing data', ['eval', 'esc50', '--data', missing, '--weights', weights]],
  ['index add: missing weights', ['index', 'add', join(dir, 'data'), '--db', join(dir, 'db'), '--weights', `${missing}.pth`]],
  ['search: no index', ['search', 'a tone', '--db', missing]],
  ...(LINUX ? PROC_CASES : []),
];

test('other commands: every error path exits with a non-zero status', async () => {
  const wrong: string[] = [];
  for (const [what, args] of OTHER_CASES) {
    const r = await run(args);
    if (r.hung) wrong.push(`${what}: still running ${HANG_S} s after: ${r.err}`);
    else if (r.code === null || r.code === 0 || !/clap: |skipped /.test(r.err))
      wrong.push(`${what}: exit code ${r.code} (${r.signal}): ${r.err}`);
  }
  assert.deepEqual(wrong, []);
});

test('train: a broken clip is left out with one skipped line, and the run goes on', async () => {
  const r = await run(['train', 'probe', '--data', withBroken, '--weights', weights, '--workers', '1', '--out', out()]);
  assert.equal(r.hung, false);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^skipped .*broken\.wav: .+$/m);
});
