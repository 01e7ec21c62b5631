/** End-to-end: the installed `clap` program (bin/clap.js → dist), spawned as users and scripts run it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { fixtureF32, fixturePath } from '../helpers/fixtures.js';
import { relativeError } from '../helpers/compare.js';
import { readNpy } from '../helpers/npy.js';
import { clapCli } from '../helpers/cli.js';

const BIN = fileURLToPath(new URL('../../bin/clap.js', import.meta.url));

function clap(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { maxBuffer: 64 << 20, env: { ...process.env, CLAP_THREADS: '1' } },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout, err: stderr });
      },
    );
  });
}

const W = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];
const audio = (name: string): string => fixturePath('inputs', 'audio', `${name}.wav`);

test('clap embed audio --json reproduces the reference embeddings (stereo and long-crop files)', async () => {
  const r = await clap(
    'embed',
    'audio',
    audio('stereo_48k'),
    audio('bursts_long_44k'),
    ...W,
    '--channels',
    'reference',
    '--crop-offset',
    '136563',
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { input: string; embedding: number[] }[];
  assert.deepEqual(
    out.map((o) => o.input),
    [audio('stereo_48k'), audio('bursts_long_44k')],
  );
  for (const [i, name] of ['stereo_48k', 'bursts_long_44k'].entries()) {
    const want = fixtureF32('expected', 'audio', name, 'audio_embed.npy');
    assert.ok(relativeError(out[i].embedding, want) <= 1e-4, name);
  }
});

test('clap embed text --json reproduces the reference text embeddings', async () => {
  const texts = JSON.parse(readFileSync(fixturePath('inputs', 'texts.json'), 'utf8')).texts as string[];
  const r = await clap('embed', 'text', texts[0], texts[7], ...W, '--json');
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as { input: string; embedding: number[] }[];
  const want = readNpy(fixturePath('expected', 'text', 'text_embed.npy'));
  const d = want.shape[1];
  assert.equal(out[1].input, texts[7]);
  for (const [k, i] of [0, 7].entries())
    assert.ok(relativeError(out[k].embedding, (want.data as Float32Array).subarray(i * d, (i + 1) * d)) <= 1e-4);
});

test('clap classify --json gives the reference zero-shot probabilities; --top keeps the best K', async () => {
  const t = JSON.parse(readFileSync(fixturePath('inputs', 'texts.json'), 'utf8')) as {
    zero_shot_classes: string[];
    zero_shot_prompt: string;
  };
  const r = await clap(
    'classify',
    audio('vowel_16k'),
    ...W,
    '--labels',
    t.zero_shot_classes.join(','),
    '--template',
    t.zero_shot_prompt,
    '--channels',
    'reference',
    '--json',
  );
  assert.equal(r.code, 0, r.err);
  const [res] = JSON.parse(r.out) as { input: string; scores: Record<string, number> }[];
  const want = readNpy(fixturePath('expected', 'zeroshot_probs.npy'));
  const row = 3; // audio_batch order: vowel_16k is the 4th file
  const n = t.zero_shot_classes.length;
  assert.ok(
    relativeError(
      t.zero_shot_classes.map((c) => res.scores[c]),
      (want.data as Float32Array).subarray(row * n, (row + 1) * n),
    ) <= 1e-4,
  );

  const dir = mkdtempSync(join(tmpdir(), 'clap-labels-'));
  writeFileSync(join(dir, 'labels.txt'), `${t.zero_shot_classes.join('\n')}\n`);
  const top = await clap('classify', audio('vowel_16k'), ...W, '--labels-file', join(dir, 'labels.txt'), '--top', '2', '--json');
  assert.equal(top.code, 0, top.err);
  const scores = Object.values((JSON.parse(top.out) as { scores: Record<string, number> }[])[0].scores);
  assert.equal(scores.length, 2);
  assert.ok(scores[0] >= scores[1]);
  const table = await clap('classify', audio('vowel_16k'), ...W, '--labels', 'dog,cat');
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /vowel_16k\.wav\n {2}(dog|cat) /);
});

test('bad inputs fail with one line naming the input, no stack trace', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-bad-'));
  const bad = join(dir, 'broken.wav');
  writeFileSync(bad, Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt garbage'));
  const cases: [string[], number, RegExp][] = [
    [['embed', 'audio', bad, ...W], 1, /broken\.wav/],
    [['embed', 'audio', dir, ...W], 1, new RegExp(dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))],
    [['classify', audio('vowel_16k'), ...W, '--labels', ' , '], 2, /no labels/],
    [['embed', 'audio', audio('vowel_16k')], 2, /--weights is required/],
    [['embed', 'text', 'x', '--weights', join(dir, 'missing.pth')], 1, /missing\.pth/],
    [['embed', 'text', 'x', '--weights', bad], 1, /broken\.wav/],
  ];
  for (const [args, code, pattern] of cases) {
    const r = await clap(...args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.match(r.err, pattern);
    assert.doesNotMatch(r.err, /\n\s+at /);
  }
});

test('one bad file does not abort a batch: embed audio, classify and caption give every good result, skip the rest (issue 12.3)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-batch-'));
  const bad = join(dir, 'broken.wav');
  writeFileSync(bad, Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt garbage'));
  const missing = join(dir, 'missing.wav');
  const good = [audio('vowel_16k'), audio('speech_22k')];
  const skippedLines = (err: string): string[] => err.split('\n').filter((l) => l.startsWith('skipped '));
  const cap = ['--weights', fixturePath('clapcap.pth'), '--config', fixturePath('config.json'), '--max-tokens', '8'];
  const runs: [string[], string[]][] = [
    [['embed', 'audio'], W],
    [['classify'], [...W, '--labels', 'dog,rain,speech']],
    [['caption'], cap],
  ];
  for (const [command, model] of runs) {
    const alone = await clap(...command, ...good, ...model, '--json');
    assert.equal(alone.code, 0, alone.err);
    const r = await clap(...command, good[0], bad, missing, good[1], ...model, '--json');
    assert.equal(r.code, 0, `${command.join(' ')}: ${r.err}`);
    const out = JSON.parse(r.out) as { input: string; error?: string }[];
    assert.deepEqual(
      out.map((o) => o.input),
      [good[0], bad, missing, good[1]],
    );
    assert.deepEqual([out[0], out[3]], JSON.parse(alone.out), 'good files: the same results as without the bad ones');
    assert.match(out[1].error ?? '', /corrupt WAV/);
    assert.match(out[2].error ?? '', /not found/);
    assert.deepEqual(skippedLines(r.err), [`skipped ${bad}: ${out[1].error}`, `skipped ${missing}: ${out[2].error}`]);
    const strict = await clap(...command, good[0], bad, ...model, '--json', '--strict');
    assert.equal(strict.code, 1, strict.err);
    assert.equal((JSON.parse(strict.out) as unknown[]).length, 2, '--strict still prints every result');
    assert.match(strict.err, /clap: 1 of 2 files skipped \(--strict\)/);
    const none = await clap(...command, bad, missing, ...model);
    assert.equal(none.code, 1, none.err);
    assert.equal(none.out, '');
    assert.equal(skippedLines(none.err).length, 2);
    assert.match(none.err, /clap: none of the 2 files could be read/);
  }
  const text = await clap('classify', good[0], bad, ...W, '--labels', 'dog,rain');
  assert.equal(text.code, 0, text.err);
  assert.ok(text.out.startsWith(`${good[0]}\n`), 'plain output lists only the files classified');
  assert.doesNotMatch(text.out, /broken/);
});

test('clap caption --json reproduces msclap generate_caption and its ranked beams', async () => {
  const beams = JSON.parse(readFileSync(fixturePath('expected', 'caption', 'beams.json'), 'utf8')) as {
    entry_length: number;
    results: {
      audio: string;
      caption: string;
      ranked_texts: string[];
      ranked_token_ids: number[][];
      greedy_beam_size_1: { ids: number[] };
    }[];
  };
  const files = beams.results.map((r) => audio(r.audio));
  const cap = ['--weights', fixturePath('clapcap.pth'), '--config', fixturePath('config.json'), '--channels', 'reference'];
  const r = await clap('caption', ...files, ...cap, '--max-tokens', String(beams.entry_length), '--all-beams', '--json');
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out) as {
    input: string;
    caption: string;
    tokens: number[];
    beams: { text: string; tokens: number[]; score: number }[];
  }[];
  beams.results.forEach((want, i) => {
    assert.equal(out[i].input, files[i]);
    assert.equal(out[i].caption, want.caption);
    assert.deepEqual(out[i].tokens, want.ranked_token_ids[0]);
    assert.deepEqual(
      out[i].beams.map((b) => b.text),
      want.ranked_texts,
    );
  });
  const greedy = await clap('caption', files[0], ...cap, '--beam', '1', '--max-tokens', String(beams.entry_length), '--json');
  assert.equal(greedy.code, 0, greedy.err);
  assert.deepEqual((JSON.parse(greedy.out) as { tokens: number[] }[])[0].tokens, beams.results[0].greedy_beam_size_1.ids);
  // text output: GPT-2's leading space is not printed after the colon (the JSON keeps msclap's string)
  const text = await clap('caption', files[0], ...cap, '--max-tokens', String(beams.entry_length));
  assert.equal(text.out, `${files[0]}: ${beams.results[0].caption.trim()}\n`);
  const wrong = await clap('caption', files[0], ...W);
  assert.equal(wrong.code, 1);
  assert.match(wrong.err, /captioning needs clapcap weights/);
});

test('clap convert IN OUT writes the format OUT names, bit-exact both ways, and refuses OUT = IN (issue 12.10)', async () => {
  const { loadCheckpoint } = await import('../../src/weights/index.js');
  const { copyFileSync, readFileSync: read, symlinkSync } = await import('node:fs');
  const dir = mkdtempSync(join(tmpdir(), 'clap-convert-'));
  const src = join(dir, 'clap.pth');
  copyFileSync(fixturePath('clap.pth'), src);
  const st = join(dir, 'clap.safetensors');
  const back = join(dir, 'back.pth');
  for (const [from, to, format] of [
    [src, st, 'safetensors'],
    [st, back, 'pth'],
  ]) {
    const r = await clap('convert', from, to, '--json');
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).format, format);
    assert.equal((await loadCheckpoint(to)).format, format);
  }
  const [a, b] = await Promise.all([loadCheckpoint(src), loadCheckpoint(back)]);
  assert.deepEqual([...b.tensors.keys()].sort(), [...a.tensors.keys()].sort());
  for (const [k, t] of a.tensors)
    assert.deepEqual(
      Buffer.from(b.tensors.get(k)!.data.buffer, b.tensors.get(k)!.data.byteOffset, b.tensors.get(k)!.data.byteLength),
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      k,
    );
  // the .pth written loads where msclap's do: clap embed takes it
  const embedded = await clap('embed', 'text', 'a dog', '--weights', back, '--config', fixturePath('config.json'));
  assert.equal(embedded.code, 0, embedded.err);

  const before = read(src);
  symlinkSync(src, join(dir, 'link.pth'));
  for (const out of [src, join(dir, '.', 'clap.pth'), join(dir, 'link.pth')]) {
    const r = await clap('convert', src, out);
    assert.equal(r.code, 2, `${out}: ${r.err}`);
    assert.match(r.err, /^clap: OUT .* is IN: give another file name/);
  }
  const odd = await clap('convert', src, join(dir, 'clap.weights'));
  assert.equal(odd.code, 2);
  assert.match(odd.err, /^clap: OUT names the format to write: end it in \.safetensors or \.pth/);
  assert.deepEqual(read(src), before, 'IN is untouched');
});

test('clap caption --sliding captions every window and lists them, as its help says (issue 12.10)', async () => {
  const long = audio('bursts_long_44k');
  const cap = ['--weights', fixturePath('clapcap.pth'), '--config', fixturePath('config.json'), '--max-tokens', '6'];
  const r = await clap('caption', long, ...cap, '--sliding', '--json');
  assert.equal(r.code, 0, r.err);
  const [res] = JSON.parse(r.out) as { caption: string; windows: { start: number; end: number; caption: string; tokens: number[] }[] }[];
  assert.deepEqual(
    res.windows.map((w) => [w.start, w.end]),
    [
      [0, 7],
      [7, 458121 / 44100],
    ],
  );
  for (const w of res.windows) assert.ok(typeof w.caption === 'string' && w.tokens.length > 0);
  // the first window is the start crop: its caption is the file's caption without --sliding
  const plain = await clap('caption', long, ...cap, '--json');
  assert.equal(plain.code, 0, plain.err);
  assert.deepEqual(res.windows[0].tokens, (JSON.parse(plain.out) as { tokens: number[] }[])[0].tokens);
  const text = await clap('caption', long, ...cap, '--sliding');
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /\n {2}0\.0–7\.0 s: .*\n {2}7\.0–10\.4 s: /);
  const help = (await clap('caption', '--help')).out.replace(/\s+/g, ' ');
  assert.match(help, /--sliding caption every 7 s window of long files too/);
  assert.match(help, /"windows"\?: \[\{"start","end","caption","tokens"\}\]/);
});

test('CLAP_BATCH sets the encoder batch (same embeddings), a bad value is one line naming it; --help says the batch is calibrated', async () => {
  const files = [audio('vowel_16k'), audio('stereo_48k'), audio('bursts_long_44k')];
  const run = (env: NodeJS.ProcessEnv, ...args: string[]) => clapCli({ ...process.env, CLAP_THREADS: '1', ...env }).run(...args);
  const embeddings = async (env: NodeJS.ProcessEnv): Promise<number[][]> => {
    const r = await run(env, 'embed', 'audio', ...files, ...W, '--json');
    assert.equal(r.code, 0, r.err);
    return (JSON.parse(r.out) as { embedding: number[] }[]).map((o) => o.embedding);
  };
  const [calibrated, three] = [await embeddings({}), await embeddings({ CLAP_BATCH: '3' })];
  three.forEach((e, i) => assert.ok(relativeError(e, calibrated[i]) <= 1e-5, files[i]));
  const bad = await run({ CLAP_BATCH: 'eight' }, 'embed', 'audio', ...files, ...W);
  assert.equal(bad.code, 1, bad.err);
  assert.equal(bad.err.trim(), "clap: CLAP_BATCH must be a positive integer, got 'eight'");
  const help = await run({}, 'embed', 'audio', '--help');
  assert.match(help.out.replace(/\s+/g, ' '), /--batch N windows per encoder run \(default: CLAP_BATCH, else calibrated for this CPU\)/);
});
