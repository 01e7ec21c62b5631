/** End-to-end: `clap eval` (bin/clap.js → dist) on miniature dataset layouts. Run `npx tsc -p .` first. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixturePath } from '../helpers/fixtures.js';
import * as L from '../tasks/eval/layouts.js';

const BIN = fileURLToPath(new URL('../../bin/clap.js', import.meta.url));
const cacheRoot = L.tempDir('cli-cache');

function clap(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { maxBuffer: 64 << 20, env: { ...process.env, CLAP_THREADS: '1', CLAP_CACHE_DIR: cacheRoot } },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr });
      },
    );
  });
}

const W = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];

test('clap eval esc50 on a miniature ESC-50 runs end to end, prints the JSON contract and writes the report', async () => {
  const root = L.makeEsc50();
  const out = join(root, 'reports', 'esc50.md');
  const r = await clap('eval', 'esc50', '--data', join(root, 'ESC-50-master'), ...W, '--out', out, '--json');
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { task: string; n: number; classes: number; metrics: Record<string, number> };
  assert.deepEqual(Object.keys(res), ['task', 'n', 'classes', 'metrics']);
  assert.deepEqual([res.task, res.n, res.classes], ['esc50', 6, 3]);
  assert.ok(res.metrics.accuracy >= 0 && res.metrics.accuracy <= 1);
  const md = readFileSync(out, 'utf8');
  assert.match(md, /^# ESC-50 — zero-shot evaluation/);
  assert.match(md, /\| accuracy \| [\d.]+ \| 93\.9 \|/);
  assert.match(md, /!\[confusion matrix\]\(esc50\.confusion\.png\)/);
  assert.ok(existsSync(join(root, 'reports', 'esc50.confusion.png')));
  const json = JSON.parse(readFileSync(join(root, 'reports', 'esc50.json'), 'utf8')) as {
    metrics: Record<string, number>;
    paper: Record<string, number>;
  };
  assert.deepEqual(json.metrics, res.metrics);
  assert.equal(json.paper.accuracy, 0.939);
  // the default cache ($CLAP_CACHE_DIR/eval) now holds the clips: a re-run with an ensemble embeds no audio
  assert.equal(readdirSync(join(cacheRoot, 'eval')).filter((f) => !f.endsWith('.json')).length, 1);
  const again = await clap(
    'eval',
    'esc50',
    '--data',
    root,
    ...W,
    '--template',
    'this is the sound of {}',
    '--template',
    'a {} can be heard',
    '--fold',
    '1',
  );
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /ESC-50 \(esc50, fold 1\): 3 clips, 3 classes\n {2}metric +ours +paper\n {2}accuracy +[\d.]+% +93\.9%/);
});

test('clap eval manifest on a generated CSV: labels → zero-shot classes, captions → retrieval', async () => {
  const dir = L.tempDir('cli-manifest');
  const rows = ['path,package,label,caption'];
  ['dog bark', 'siren', 'dog bark', 'keyboard typing', 'siren'].forEach((label, i) => {
    L.writeWav(join(dir, 'pkgs', `clip${i}.wav`));
    rows.push(`pkgs/clip${i}.wav,pkg,${label},"the sound of ${label}, take ${i}"`);
  });
  writeFileSync(join(dir, 'manifest.csv'), `${rows.join('\n')}\n`);
  const r = await clap(
    'eval',
    'manifest',
    '--data',
    join(dir, 'manifest.csv'),
    '--label-column',
    'label',
    '--caption-column',
    'caption',
    ...W,
    '--json',
    '--no-cache',
  );
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { task: string; n: number; classes: number; metrics: Record<string, number> };
  assert.deepEqual([res.task, res.n, res.classes], ['manifest', 5, 3]);
  for (const k of ['accuracy', 'mAP', 'a2t_R@1', 'a2t_R@5', 'a2t_R@10', 'a2t_mAP@10', 't2a_R@1', 't2a_R@5', 't2a_R@10', 't2a_mAP@10']) {
    assert.ok(typeof res.metrics[k] === 'number' && res.metrics[k] >= 0 && res.metrics[k] <= 1, k);
  }
  assert.equal(res.metrics['t2a_R@5'], 1); // 5 clips: the right clip is always within the top 5
  const jsonl = join(dir, 'manifest.jsonl');
  writeFileSync(jsonl, ['dog', 'cat'].map((l, i) => JSON.stringify({ file: `pkgs/clip${i}.wav`, label: l })).join('\n'));
  const j = await clap('eval', 'manifest', '--data', jsonl, '--label-column', 'label', ...W, '--json', '--no-cache');
  assert.equal(j.code, 0, j.err);
  assert.deepEqual(Object.keys((JSON.parse(j.out) as { metrics: object }).metrics), ['accuracy', 'mAP']);
});

test('clap eval errors: one line naming the expected files; usage errors exit 2', async () => {
  const empty = L.tempDir('cli-empty');
  const cases: [string[], number, RegExp][] = [
    [['eval', 'esc50', '--data', empty, ...W], 1, /does not look like ESC-50.*meta\/esc50\.csv/],
    [['eval', 'clotho', '--data', empty, ...W], 1, /clotho_captions_evaluation\.csv/],
    [['eval', 'nosuch', '--data', empty, ...W], 2, /unknown task 'nosuch'/],
    [['eval', '--data', empty], 2, /give a task/],
    [['eval', 'esc50', ...W], 2, /--data is required/],
    [['eval', 'manifest', '--data', join(empty, 'm.csv'), ...W], 2, /--label-column/],
    [['eval', 'esc50', '--data', empty, '--label-column', 'x'], 2, /--label-column is for 'clap eval manifest'/],
    [['eval', 'esc50', '--data', empty, '--threshold', '2'], 2, /--threshold/],
  ];
  for (const [args, code, pattern] of cases) {
    const r = await clap(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, pattern);
  }
  const list = await clap('eval', 'list', '--json');
  assert.equal(list.code, 0, list.err);
  const tasks = (JSON.parse(list.out) as { task: string }[]).map((t) => t.task);
  for (const t of [
    'esc50',
    'us8k',
    'fsd50k',
    'gtzan-genres',
    'gtzan-music-speech',
    'vocalsound',
    'tut2017',
    'crema-d',
    'ravdess',
    'speech-commands',
    'libricount',
    'nsynth-instrument',
    'audiocaps',
    'clotho',
    'manifest',
  ]) {
    assert.ok(tasks.includes(t), t);
  }
});

test('clap eval clotho-captions scores generated captions (CIDEr-D; SPIDEr with --spice) without a model', async () => {
  const root = L.makeClotho();
  const preds = join(root, 'preds.csv');
  writeFileSync(
    preds,
    [
      'file_name,caption_predicted',
      'Santa Motor.wav,caption 1 of clip 0',
      'Radio Garble.wav,caption 2 of clip 1',
      '"Footsteps on gravel, 2.wav",a person walks',
      '',
    ].join('\n'),
  );
  const r = await clap('eval', 'clotho-captions', '--data', root, '--predictions', preds, '--spice', '0.1', '--json');
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out) as { n: number; metrics: Record<string, number> };
  assert.equal(res.n, 3);
  assert.ok(res.metrics.cider_d > 0);
  assert.ok(Math.abs(res.metrics.spider - (res.metrics.cider_d + 0.1) / 2) < 1e-12);
});
