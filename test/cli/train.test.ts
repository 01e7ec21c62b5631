/**
 * `clap train` end to end through bin/clap.js (dist): every trainer's output used by the matching command with no extra flags,
 * plot, kill -9 / Ctrl-C + --resume.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeToneDataset } from '../tasks/train-helpers.js';
import { type ClapConfig, CLAP_PRESETS, clapConfigToJson, randomClapStateDict } from '../../src/models/clap/index.js';
import { fixturePath } from '../helpers/fixtures.js';
import { randomClapCapWeights } from '../../src/tasks/caption/index.js';
import { savePth, saveSafetensors } from '../../src/weights/index.js';

const TINY = CLAP_PRESETS.tiny as ClapConfig;
const BIN = fileURLToPath(new URL('../../bin/clap.js', import.meta.url));
const ENV = { ...process.env, CLAP_THREADS: '1' };

function clap(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20, env: ENV }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr });
    });
  });
}

const dir = mkdtempSync(join(tmpdir(), 'clap-train-cli-'));
const manifest = writeToneDataset(join(dir, 'data'), 8);
const COMMON = [
  '--data',
  manifest,
  '--config',
  'tiny',
  '--batch',
  '4',
  '--val-fraction',
  '0.25',
  '--seed',
  '2',
  '--threads',
  '1',
  '--workers',
  '1',
  '--template',
  'a {} tone',
];

interface Step {
  type: string;
  step: number;
  loss: number;
}
const steps = (run: string): Map<number, number> => {
  const m = new Map<number, number>();
  for (const l of readFileSync(join(run, 'log.jsonl'), 'utf8').split('\n')) {
    if (!l.trim()) continue;
    const e = JSON.parse(l) as Step;
    if (e.type === 'step') m.set(e.step, e.loss);
  }
  return m;
};

const tone = (name: string): string => join(dir, 'data', `${name}.wav`);

/** The most probable label of `clap classify --json` for one file. */
function top(out: string): string {
  const [r] = JSON.parse(out) as { scores: Record<string, number> }[];
  return Object.entries(r.scores).sort((a, b) => b[1] - a[1])[0][0];
}

test('train contrastive → classify / embed / train contrastive --init / train finetune with no extra flags; train plot', async () => {
  const run = join(dir, 'run');
  const r = await clap('train', 'contrastive', ...COMMON, '--out', run, '--epochs', '2', '--json');
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as { status: string; steps: number; final_weights: string; config: string };
  assert.equal(s.status, 'finished');
  assert.equal(s.steps, 2 * Math.floor(24 / 4));
  for (const f of ['final.pth', 'final.safetensors', 'config.json', 'log.jsonl', 'checkpoint.safetensors'])
    assert.ok(existsSync(join(run, f)), f);
  // the run's config.json is found beside the weights: no --config anywhere
  const c = await clap('classify', tone('high_1'), '--weights', s.final_weights, '--labels', 'low,high', '--json');
  assert.equal(c.code, 0, c.err);
  const e = await clap('embed', 'text', 'a low tone', '--weights', join(run, 'final.safetensors'), '--json');
  assert.equal(e.code, 0, e.err);
  assert.equal((JSON.parse(e.out) as { embedding: number[] }[])[0].embedding.length, 32);
  // the tiny preset is a config everywhere, not only in train
  const preset = await clap('embed', 'text', 'a low tone', '--weights', join(run, 'final.safetensors'), '--config', 'tiny', '--json');
  assert.equal(preset.code, 0, preset.err);
  // and it is a starting point for more training, again without --config
  const quick = ['--data', manifest, '--batch', '4', '--max-steps', '1', '--workers', '1'];
  const more = await clap('train', 'contrastive', ...quick, '--init', s.final_weights, '--out', join(dir, 'more'));
  assert.equal(more.code, 0, more.err);
  const ft = await clap('train', 'finetune', ...quick, '--weights', s.final_weights, '--out', join(dir, 'ft-run'));
  assert.equal(ft.code, 0, ft.err);

  const p = await clap('train', 'plot', run, '--json');
  assert.equal(p.code, 0, p.err);
  const svg = readFileSync(join(run, 'curves.svg'), 'utf8');
  assert.match(svg, /^<svg/);
  assert.match(svg, /training loss/);
  // a second run into the same folder must not silently overwrite it
  const again = await clap('train', 'contrastive', ...COMMON, '--out', run, '--epochs', '1');
  assert.equal(again.code, 1);
  assert.match(again.err, /--resume/);
});

/** Starts `clap ARGS`, sends `signal` once log.jsonl matches `when`; resolves with the exit code and stderr. */
function stopWhen(args: string[], logFile: string, when: RegExp, signal: NodeJS.Signals): Promise<{ code: number | null; err: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { env: ENV, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  let sent = false;
  const timer = setInterval(() => {
    if (sent || !existsSync(logFile) || !when.test(readFileSync(logFile, 'utf8'))) return;
    sent = true;
    child.kill(signal);
  }, 20);
  return new Promise((resolve, reject) =>
    child.on('exit', (code) => {
      clearInterval(timer);
      if (!sent) reject(new Error(`the run finished before ${signal} could be sent: ${err}`));
      else resolve({ code, err });
    }),
  );
}

test('kill -9 or Ctrl-C, then --resume: the loss curve continues exactly where the uninterrupted run goes', async () => {
  const args = [...COMMON, '--epochs', '3', '--checkpoint-every', '2'];
  const ref = join(dir, 'ref');
  const r = await clap('train', 'contrastive', ...args, '--out', ref);
  assert.equal(r.code, 0, r.err);
  const a = steps(ref);
  const continuesExactly = (run: string): void => {
    const b = steps(run);
    assert.deepEqual(
      [...b.keys()].sort((x, y) => x - y),
      [...a.keys()].sort((x, y) => x - y),
      'every step once, numbered on',
    );
    for (const [k, v] of a) assert.ok(Math.abs(b.get(k)! - v) <= 1e-5 * Math.max(1, Math.abs(v)), `step ${k}: ${b.get(k)} vs ${v}`);
    assert.match(readFileSync(join(run, 'log.jsonl'), 'utf8'), /"type":"resume"/);
  };

  // SIGKILL right after a mid-epoch checkpoint past step 7
  const killed = join(dir, 'killed');
  await stopWhen(
    ['train', 'contrastive', ...args, '--out', killed],
    join(killed, 'log.jsonl'),
    /"type":"checkpoint","step":(8|10)\b/,
    'SIGKILL',
  );
  assert.ok(!existsSync(join(killed, 'final.pth')), 'killed before the end');
  const resumed = await clap('train', 'contrastive', ...args, '--out', killed, '--resume', '--json');
  assert.equal(resumed.code, 0, resumed.err);
  continuesExactly(killed);

  // Ctrl-C after step 3 (no checkpoint due there): the run checkpoints where it stopped, keeps weights, says how to go on
  const stopped = join(dir, 'ctrl-c');
  const c = await stopWhen(
    ['train', 'contrastive', ...args, '--out', stopped],
    join(stopped, 'log.jsonl'),
    /"type":"step","step":3\b/,
    'SIGINT',
  );
  assert.equal(c.code, 130, c.err);
  assert.match(
    c.err,
    /interrupted at step \d+: .*ctrl-c keeps its checkpoint and the weights so far; to continue, run the same command with --resume/,
  );
  const summary = JSON.parse(readFileSync(join(stopped, 'summary.json'), 'utf8')) as { status: string; steps: number };
  assert.equal(summary.status, 'interrupted');
  assert.ok(summary.steps >= 3 && summary.steps < 18, `stopped at step ${summary.steps}`);
  assert.ok(existsSync(join(stopped, 'final.pth')), 'the weights so far are kept');
  const log = readFileSync(join(stopped, 'log.jsonl'), 'utf8');
  assert.match(log, new RegExp(`"type":"checkpoint","step":${summary.steps}\\b`), 'checkpointed where it stopped');
  const again = await clap('train', 'contrastive', ...args, '--out', stopped, '--resume', '--json');
  assert.equal(again.code, 0, again.err);
  continuesExactly(stopped);
});

test('train probe / finetune / caption → classify --head / classify / caption, with no extra flags (tiny random models on tones)', async () => {
  // a CLAP with its config.json beside it, as clap train writes one
  mkdirSync(join(dir, 'clap'));
  const w = join(dir, 'clap', 'clap.safetensors');
  await saveSafetensors(w, randomClapStateDict(TINY, 5));
  writeFileSync(join(dir, 'clap', 'config.json'), JSON.stringify(clapConfigToJson(TINY)));
  const base = ['--data', manifest, '--weights', w, '--threads', '1', '--workers', '1', '--json'];

  const p = await clap('train', 'probe', ...base, '--out', join(dir, 'probe'), '--val-fraction', '0.25');
  assert.equal(p.code, 0, p.err);
  const ps = JSON.parse(p.out) as { val_accuracy: number; chance: number; val_clips: number; train_accuracy: number };
  assert.equal(ps.val_clips, 8);
  assert.ok(ps.val_accuracy > ps.chance, `probe ${ps.val_accuracy}`);
  const byProbe = await clap('classify', tone('high_1'), '--weights', w, '--head', join(dir, 'probe', 'probe.safetensors'), '--json');
  assert.equal(byProbe.code, 0, byProbe.err);
  assert.deepEqual(Object.keys((JSON.parse(byProbe.out) as { scores: object }[])[0].scores).sort(), ['buzz', 'high', 'low', 'middle']);
  if (ps.train_accuracy === 1) assert.equal(top(byProbe.out), 'high');

  const f = await clap('train', 'finetune', ...base, '--out', join(dir, 'ft'), '--epochs', '1', '--batch', '4', '--lr', '1e-3');
  assert.equal(f.code, 0, f.err);
  const fs = JSON.parse(f.out) as { steps: number; weights: string };
  assert.equal(fs.steps, 6);
  const zeroShot = await clap('classify', tone('high_1'), '--weights', fs.weights, '--labels', 'low,high', '--json');
  assert.equal(zeroShot.code, 0, zeroShot.err);
  const byHead = await clap(
    'classify',
    tone('high_1'),
    '--weights',
    fs.weights,
    '--head',
    join(dir, 'ft', 'classifier.safetensors'),
    '--json',
  );
  assert.equal(byHead.code, 0, byHead.err);
  assert.equal(Object.keys((JSON.parse(byHead.out) as { scores: object }[])[0].scores).length, 4);

  // a clapcap to start from, its settings (GPT-2's head count) in the config.json beside it
  mkdirSync(join(dir, 'capinit'));
  const init = join(dir, 'capinit', 'clapcap.pth');
  const gpt = { vocabSize: 50257, nPositions: 48, nEmbd: 32, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
  await savePth(init, randomClapCapWeights({ gpt, prefixDim: TINY.dProj, prefixLength: 4, clipLength: 4, numLayers: 1 }));
  writeFileSync(join(dir, 'capinit', 'config.json'), JSON.stringify({ ...clapConfigToJson(TINY), clapcap: { gpt2: { n_head: 2 } } }));
  const run = ['--data', manifest, '--init', init, '--clap', w, '--epochs', '2', '--batch', '4', '--lr', '1e-3', '--max-tokens', '8'];
  const k = await clap('train', 'caption', ...run, '--out', join(dir, 'cap'), '--threads', '1', '--workers', '1', '--json');
  assert.equal(k.code, 0, k.err);
  const ks = JSON.parse(k.out) as { steps: number; weights: string; examples: number };
  assert.equal(ks.examples, 32);
  assert.equal(ks.steps, 16);
  const cap = await clap('caption', tone('low_1'), '--weights', ks.weights, '--json');
  assert.equal(cap.code, 0, cap.err);
  assert.equal(typeof (JSON.parse(cap.out) as { caption: string }[])[0].caption, 'string');
  // the tiny clapcap fixture as it is: settings and audio encoder its own; stopped after 3 steps
  const fx = await clap(
    'train',
    'caption',
    '--data',
    manifest,
    '--init',
    fixturePath('clapcap.pth'),
    '--out',
    join(dir, 'cap-fx'),
    '--max-steps',
    '3',
    '--workers',
    '1',
  );
  assert.equal(fx.code, 0, fx.err);
  assert.match(fx.out, /max_steps: 3 steps, .*; loss \d+\.\d{4} → \d+\.\d{4}\n/);
  const fxCap = await clap('caption', tone('low_1'), '--weights', join(dir, 'cap-fx', 'clapcap.pth'));
  assert.equal(fxCap.code, 0, fxCap.err);

  const bad = await clap('train', 'probe', '--data', manifest);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--weights/);
});
