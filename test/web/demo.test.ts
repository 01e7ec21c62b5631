/**
 * The demo page (dist/web/demo/, served by `clap serve` as it is) in headless Chromium with the fixture model
 * exported by `clap export onnx`: files dropped in the page are classified and searched entirely in the page,
 * with the Node library's answers (`clap classify --json`, `clap embed text --json`) to 1e-4; model files are
 * kept in Cache Storage after the first load; the export can also be given as files. The README's browser
 * example (examples/browser.html) runs as shown.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { cosine } from '../../src/tasks/similarity.js';
import { launchChromium } from '../helpers/chromium.js';
import { assertRelClose } from '../helpers/compare.js';
import { serveLibrary, type TestLibrary } from '../server/helpers.js';
import { AUDIO, LABELS, QUERY, type Reference, reference, scoreDiff, TEXTS, TOL } from './helpers.js';

const WAIT = { timeout: 180_000 };
let browser: Browser;
let lib: TestLibrary;
let ref: Reference;
let context: BrowserContext;
/** Model files the page asked the server for, in order. */
const served: string[] = [];

before(async () => {
  [browser, lib, ref] = await Promise.all([launchChromium(), serveLibrary(1, { indexed: false }), reference()]);
  context = await browser.newContext();
  // The export as the server's /models/ folder (any static host would do).
  await context.route(`${lib.server.origin}/models/**`, (route) => {
    const name = basename(new URL(route.request().url()).pathname);
    served.push(name);
    const path = join(ref.dir, name);
    return existsSync(path) ? route.fulfill({ path }) : route.fulfill({ status: 404, body: 'not found' });
  });
});

after(async () => {
  await browser?.close();
  await lib?.close();
  if (ref) rmSync(dirname(ref.dir), { recursive: true, force: true });
});

/** A page of the demo whose errors (uncaught, console) fail the test that opened it. */
async function open(ctx: BrowserContext, query = ''): Promise<Page & { errors: string[] }> {
  const page = (await ctx.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  await page.goto(`${lib.server.origin}/demo/${query}`);
  return page;
}

const loaded = (page: Page) => page.waitForSelector('body[data-model="loaded"]', WAIT);

/** Waits until the results show every dropped file against `labels`; their scores by file name. */
async function results(page: Page, files: number, labels: string[]): Promise<Map<string, Record<string, number>>> {
  await page.waitForFunction(
    ({ n, want }) => {
      // No named functions in here: the test's transpiler would wrap them in a helper the page does not have.
      const rows = [...document.querySelectorAll<HTMLElement>('#results tr')];
      const same = rows.every((r) => JSON.stringify(Object.keys(JSON.parse(r.dataset.scores ?? '{}'))) === want);
      return rows.length === n && !document.body.dataset.busy && same;
    },
    { n: files, want: JSON.stringify(labels) },
    WAIT,
  );
  const rows = await page.$$eval('#results tr', (rs) =>
    rs.map((r) => [(r as HTMLElement).dataset.input!, (r as HTMLElement).dataset.scores!]),
  );
  return new Map(rows.map(([input, scores]) => [input, JSON.parse(scores) as Record<string, number>]));
}

test('demo: dropped files classified in the page match clap classify --json to 1e-4; labels edited, results follow', async (t) => {
  const page = await open(context, '?model=/models/');
  await loaded(page);
  assert.match((await page.textContent('#model-status')) ?? '', /^Loaded msclap-2023 \(64-d embeddings, onnxruntime-web wasm\)\.$/);
  await page.fill('#labels', LABELS.join('\n'));
  await page.setInputFiles('#audio-files', AUDIO);
  const got = await results(page, AUDIO.length, LABELS);
  for (const [input, scores] of got) {
    const d = scoreDiff(scores, ref.scores.get(input)!);
    t.diagnostic(`${input}: max |p_page − p_node| ${d.toExponential(2)}`);
    assert.ok(d <= TOL, `${input}: ${d}`);
  }
  // Fewer labels: the softmax over the rest (the audio is not embedded again).
  await page.fill('#labels', LABELS.slice(0, 2).join('\n'));
  const two = await results(page, AUDIO.length, LABELS.slice(0, 2));
  assert.ok(Math.abs(Object.values(two.get(basename(AUDIO[0]))!).reduce((a, b) => a + b) - 1) < 1e-9);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('demo: text embeddings in the page match clap embed text --json to 1e-4; search ranks the dropped files by the query', async (t) => {
  const page = await open(context, '?model=/models/');
  await loaded(page);
  const text = await page.evaluate(async (texts) => {
    const demo = (globalThis as unknown as { clapDemo: { clap: { embedText(t: string[]): Promise<Float32Array[]> } } }).clapDemo;
    return (await demo.clap.embedText(texts)).map((e) => Array.from(e));
  }, TEXTS);
  text.forEach((e, i) => assertRelClose(i === 0 ? t : undefined, `text ${i}`, e, ref.text[i], TOL));

  await page.setInputFiles('#audio-files', AUDIO);
  await results(page, AUDIO.length, await page.$eval('#labels', (l) => (l as HTMLTextAreaElement).value.split('\n')));
  await page.fill('#query', QUERY);
  await page.waitForFunction((n) => document.querySelectorAll('#search-results li').length === n, AUDIO.length, WAIT);
  const hits = await page.$$eval('#search-results li', (ls) =>
    ls.map((l) => [(l as HTMLElement).dataset.input!, Number((l as HTMLElement).dataset.score)] as const),
  );
  const clips = await page.evaluate(() =>
    (globalThis as unknown as { clapDemo: { clips: { input: string; embedding: Float32Array }[] } }).clapDemo.clips.map(
      (c) => [c.input, Array.from(c.embedding)] as const,
    ),
  );
  const audio = new Map(clips);
  for (const [input, score] of hits) {
    const want = ref.logitScale * cosine(audio.get(input)!, ref.query);
    assert.ok(Math.abs(score - want) <= TOL * ref.logitScale, `${input}: ${score} vs ${want}`);
  }
  const scores = hits.map(([, s]) => s);
  assert.deepEqual(
    scores,
    [...scores].sort((a, b) => b - a),
    'best first',
  );
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('demo: model files come from Cache Storage after the first load', async () => {
  const before = served.filter((f) => f.endsWith('.onnx')).length;
  assert.ok(before >= 2, 'the first load downloaded the models');
  const page = await open(context, '?model=/models/');
  await loaded(page);
  assert.equal(served.filter((f) => f.endsWith('.onnx')).length, before, 'no model downloaded again');
  const cached = await page.evaluate(async () => (await (await caches.open('clap-ts-models')).keys()).map((r) => new URL(r.url).pathname));
  assert.deepEqual(cached.sort(), ['/models/audio_encoder.onnx', '/models/text_encoder.onnx']);
  await page.close();
});

test('demo: the export given as files; a file that is not audio is reported by name in the page', async () => {
  const fresh = await browser.newContext();
  const page = await open(fresh);
  assert.equal(await page.textContent('#model-status'), 'No model loaded.');
  await page.setInputFiles(
    '#model-files',
    ref.files.map((f) => join(ref.dir, f)),
  );
  await loaded(page);
  await page.setInputFiles('#audio-files', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not audio') });
  await page.waitForSelector('#audio-status.error', WAIT);
  assert.match(
    (await page.textContent('#audio-status')) ?? '',
    /^0 file\(s\) embedded\. notes\.txt: unrecognised audio format that this browser cannot decode either/,
  );
  await fresh.close();
});

test("the README's browser example (examples/browser.html) classifies chosen files as clap classify --json does", async (t) => {
  const ctx = await browser.newContext();
  const example = fileURLToPath(new URL('../../examples/browser.html', import.meta.url));
  const pkgWeb = 'node_modules/clap-ts/dist/web/';
  // The example's folder: the page, model/ (the export) and node_modules/clap-ts/dist/web/ (redirected to the server's dist/web).
  await ctx.route(`${lib.server.origin}/example/**`, (route) => {
    const path = new URL(route.request().url()).pathname.slice('/example/'.length);
    if (path === '') return route.fulfill({ path: example });
    if (path.startsWith(pkgWeb))
      return route.fulfill({ status: 302, headers: { location: `${lib.server.origin}/${path.slice(pkgWeb.length)}` } });
    const file = join(ref.dir, path.slice('model/'.length));
    return path.startsWith('model/') && existsSync(file) ? route.fulfill({ path: file }) : route.fulfill({ status: 404 });
  });
  const page = await ctx.newPage();
  await page.goto(`${lib.server.origin}/example/`);
  await page.waitForFunction(() => document.querySelector('#out')?.textContent?.startsWith('ready'), undefined, WAIT);
  await page.setInputFiles('#clips', AUDIO.slice(3));
  await page.waitForFunction(
    (n) => (document.querySelector('#out')?.textContent ?? '').split('\n').filter((l) => l.includes('{')).length === n,
    AUDIO.length - 3,
    WAIT,
  );
  for (const line of ((await page.textContent('#out')) ?? '').split('\n')) {
    const [, input, scores] = /^(\S+) (\{.*\})$/.exec(line) ?? [];
    const d = scoreDiff(JSON.parse(scores) as Record<string, number>, ref.scores.get(input)!);
    t.diagnostic(`${input}: max |p_page − p_node| ${d.toExponential(2)}`);
    assert.ok(d <= TOL, `${input}: ${d}`);
  }
  await ctx.close();
});
