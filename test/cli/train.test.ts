/** `clap train` end to end through bin/clap.js (dist): a run, its weights in other commands, plot, kill -9 + --resume, probe / finetune / caption. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeToneDataset } from '../tasks/train-helpers.js';
import { type ClapConfig, randomClapStateDict } from '../../src/models/clap/index.js';
import { randomClapCapWeights } from '../../src/tasks/caption/index.js';
import { TRAIN_PRESETS } from '../../src/tasks/train/index.js';
import { savePth, saveSafetensors } from '../../src/weights/index.js';

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

test('clap train contrastive writes final.pth + config.json that clap classify loads; clap train plot writes an SVG', async () => {
  const run = join(dir, 'run');
  const r = await clap('train', 'contrastive', ...COMMON, '--out', run, '--epochs', '2', '--json');
  assert.equal(r.code, 0, r.err);
  const s = JSON.parse(r.out) as { status: string; steps: number; final_weights: string; config: string };
  assert.equal(s.status, 'finished');
  assert.equal(s.steps, 2 * Math.floor(24 / 4));
  for (const f of ['final.pth', 'final.safetensors', 'config.json', 'log.jsonl', 'checkpoint.safetensors'])
    assert.ok(existsSync(join(run, f)), f);
  const c = await clap(
    'classify',
    join(dir, 'data', 'high_1.wav'),
    '--weights',
    s.final_weights,
    '--config',
    s.config,
    '--labels',
    'low,high',
    '--json',
  );
  assert.equal(c.code, 0, c.err);
  const e = await clap('embed', 'text', 'a low tone', '--weights', join(run, 'final.safetensors'), '--config', s.config, '--json');
  assert.equal(e.code, 0, e.err);
  assert.equal((JSON.parse(e.out) as { embedding: number[] }[])[0].embedding.length, 32);
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

test('clap train probe / finetune / caption end to end (tiny random CLAP on tones): JSON summaries, files, usage errors', async () => {
  const w = join(dir, 'rand-clap.safetensors');
  await saveSafetensors(w, randomClapStateDict(TRAIN_PRESETS.tiny as ClapConfig, 5));
  const base = ['--data', manifest, '--weights', w, '--config', 'tiny', '--threads', '1', '--workers', '1', '--json'];
  const p = await clap('train', 'probe', ...base, '--out', join(dir, 'probe'), '--val-fraction', '0.25');
  assert.equal(p.code, 0, p.err);
  const ps = JSON.parse(p.out) as { val_accuracy: number; chance: number; val_clips: number };
  assert.equal(ps.val_clips, 8);
  assert.ok(ps.val_accuracy > ps.chance, `probe ${ps.val_accuracy}`);
  assert.ok(existsSync(join(dir, 'probe', 'probe.safetensors')));

  const f = await clap('train', 'finetune', ...base, '--out', join(dir, 'ft'), '--epochs', '1', '--batch', '4', '--lr', '1e-3');
  assert.equal(f.code, 0, f.err);
  const fs = JSON.parse(f.out) as { steps: number; weights: string };
  assert.equal(fs.steps, 6);
  const c = await clap(
    'classify',
    join(dir, 'data', 'high_1.wav'),
    '--weights',
    fs.weights,
    '--config',
    join(dir, 'ft', 'config.json'),
    '--labels',
    'low,high',
    '--json',
  );
  assert.equal(c.code, 0, c.err);

  const init = join(dir, 'clapcap-init.pth');
  await savePth(
    init,
    randomClapCapWeights({
      gpt: { vocabSize: 50257, nPositions: 48, nEmbd: 32, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 },
      prefixDim: 32,
      prefixLength: 4,
      clipLength: 4,
      numLayers: 1,
    }),
  );
  const settings = join(dir, 'clapcap.json');
  writeFileSync(settings, JSON.stringify({ clapcap: { gpt2: { n_head: 2 } } }));
  const k = await clap(
    'train',
    'caption',
    '--data',
    manifest,
    '--clap',
    w,
    '--clap-config',
    'tiny',
    '--init',
    init,
    '--clapcap-config',
    settings,
    '--out',
    join(dir, 'cap'),
    '--epochs',
    '2',
    '--batch',
    '4',
    '--lr',
    '1e-3',
    '--max-tokens',
    '8',
    '--threads',
    '1',
    '--workers',
    '1',
    '--json',
  );
  assert.equal(k.code, 0, k.err);
  const ks = JSON.parse(k.out) as { steps: number; weights: string; examples: number };
  assert.equal(ks.examples, 32);
  assert.equal(ks.steps, 16);
  assert.ok(existsSync(ks.weights));

  const bad = await clap('train', 'probe', '--data', manifest);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--weights/);
});
