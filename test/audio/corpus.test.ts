/**
 * `npm run corpus` (scripts/corpus.ts) on a small folder: the good files decode, bad ones are refused
 * with their reasons grouped, and the JSON report has the documented shape. Without ffmpeg, so it runs
 * the same everywhere; the comparison with ffmpeg is what the maintainer's run on real data shows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA = join(ROOT, 'test', 'audio', 'data');

function corpus(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'corpus.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('corpus --json: per-format counts, refusals grouped by reason, a seeded --sample, a usage error for no folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-corpus-'));
  try {
    for (const f of ['tone_stereo_44k.flac', 'ff_mono_8k.mp3', 'ff_stereo_44k.mp3', 'tone_stereo_44k.m4a'])
      copyFileSync(join(DATA, f), join(dir, f));
    const mp3 = readFileSync(join(DATA, 'ff_stereo_44k.mp3'));
    writeFileSync(join(dir, 'half-a.mp3'), mp3.subarray(0, mp3.length >> 1));
    writeFileSync(join(dir, 'half-b.mp3'), mp3.subarray(0, (mp3.length >> 1) + 200));
    writeFileSync(join(dir, 'notes.wav'), 'not audio at all\n'.repeat(8));
    const r = corpus(dir, '--no-ffmpeg', '--json');
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.files, 7);
    assert.equal(report.ffmpeg, null);
    const row = (format: string) => report.formats.find((x: { format: string }) => x.format === format);
    assert.deepEqual([row('MP3').files, row('MP3').decoded, row('MP3').refused], [4, 2, 2]);
    assert.deepEqual([row('FLAC').decoded, row('MP4/M4A').refused, row('unrecognised').refused], [1, 1, 1]);
    const reasons = report.refusals.map((g: { format: string; reason: string; files: number }) => `${g.format}: ${g.files} × ${g.reason}`);
    assert.ok(
      reasons.includes('MP3: 2 × truncated MP3 data: the file holds N of the N frames its Xing/Info header declares'),
      reasons.join('\n'),
    );
    assert.ok(reasons.some((x: string) => /^MP4\/M4A: 1 × MP4\/M4A is not decoded natively; .*the ffmpeg fallback is turned off$/.test(x)));
    assert.ok(reasons.includes('unrecognised: 1 × not an audio file: it holds text'), reasons.join('\n'));
    const sampled = corpus(dir, '--no-ffmpeg', '--json', '--sample', '3');
    assert.equal(sampled.status, 0, sampled.stderr);
    const some = JSON.parse(sampled.stdout);
    assert.deepEqual([some.found, some.files, some.checked], [7, 3, 3]);
    assert.deepEqual(
      JSON.parse(corpus(dir, '--no-ffmpeg', '--json', '--sample', '3').stdout).formats,
      some.formats,
      'the same sample every run',
    );
    // --journal: a run stopped after 3 files (and torn mid-line) resumes with the rest, to the same report
    const journal = join(dir, '..', `${basename(dir)}.jsonl`);
    assert.equal(corpus(dir, '--no-ffmpeg', '--json', '--journal', journal, '--limit', '3').status, 0);
    appendFileSync(journal, '{"path": "/cut');
    const resumed = corpus(dir, '--no-ffmpeg', '--json', '--journal', journal);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stderr, /corpus: 3 results from .* reused/);
    assert.deepEqual(JSON.parse(resumed.stdout).formats, report.formats);
    assert.equal(
      readFileSync(journal, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{"path":"')).length,
      7,
    );
    rmSync(journal);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const usage = corpus('--json');
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /name at least one folder/);
});
