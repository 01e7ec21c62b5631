/**
 * clap-ts/web on the other families' exports (issue 13): msclap 2022 (5 s waveform windows, BERT WordPiece),
 * Hugging Face CLAP unfused and fused (ClapFeatureExtractor's input_features and is_longer computed in the page,
 * RoBERTa BPE). The demo page in headless Chromium classifies each fixture set's audio and embeds its texts as
 * the Node library does (`clap classify --json`, `clap embed text --json`) to 1e-4; in Node, a fused model's
 * random crop with a seed replays the CLI's.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { Clap } from '../../src/web/index.js';
import { clapCli } from '../helpers/cli.js';
import { launchChromium } from '../helpers/chromium.js';
import { assertRelClose } from '../helpers/compare.js';
import { serveLibrary, type TestLibrary } from '../server/helpers.js';
import { LABELS, OTHER_FAMILIES, type Reference, reference, scoreDiff, TOL } from './helpers.js';

const WAIT = { timeout: 180_000 };
const FAMILIES = Object.entries(OTHER_FAMILIES);
let browser: Browser;
let lib: TestLibrary;
const refs = new Map<string, Reference>();

before(async () => {
  const [b, l, ...rs] = await Promise.all([
    launchChromium(),
    serveLibrary(1, { indexed: false }),
    ...FAMILIES.map(([, f]) => reference(f)),
  ]);
  [browser, lib] = [b, l];
  FAMILIES.forEach(([name], i) => refs.set(name, rs[i]));
});

after(async () => {
  await browser?.close();
  await lib?.close();
  for (const r of refs.values()) rmSync(dirname(r.dir), { recursive: true, force: true });
});

/** The demo page with the export of `name` served at /models/NAME/; errors in the page are collected. */
async function demoWith(name: string): Promise<Page & { errors: string[] }> {
  const ref = refs.get(name)!;
  const context = await browser.newContext();
  await context.route(`${lib.server.origin}/models/${name}/**`, (route) => {
    const path = join(ref.dir, basename(new URL(route.request().url()).pathname));
    return existsSync(path) ? route.fulfill({ path }) : route.fulfill({ status: 404, body: 'not found' });
  });
  const page = (await context.newPage()) as Page & { errors: string[] };
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  await page.goto(`${lib.server.origin}/demo/?model=/models/${name}/`);
  await page.waitForSelector('body[data-model="loaded"]', WAIT);
  return page;
}

for (const [name, fixture] of FAMILIES) {
  test(`${name} in Chromium: the demo classifies the set's audio and embeds its texts as the Node library does (1e-4)`, async (t) => {
    const ref = refs.get(name)!;
    const page = await demoWith(name);
    assert.match((await page.textContent('#model-status')) ?? '', new RegExp(`^Loaded ${fixture.family} \\(`));
    await page.fill('#labels', LABELS.join('\n'));
    await page.setInputFiles('#audio-files', fixture.audio);
    await page.waitForFunction(
      (n) => document.querySelectorAll('#results tr').length === n && !document.body.dataset.busy,
      fixture.audio.length,
      WAIT,
    );
    const rows = await page.$$eval('#results tr', (rs) =>
      rs.map((r) => [(r as HTMLElement).dataset.input!, (r as HTMLElement).dataset.scores!]),
    );
    assert.equal(rows.length, fixture.audio.length);
    for (const [input, scores] of rows) {
      const d = scoreDiff(JSON.parse(scores) as Record<string, number>, ref.scores.get(input)!);
      t.diagnostic(`${input}: max |p_page − p_node| ${d.toExponential(2)}`);
      assert.ok(d <= TOL, `${input}: ${d}`);
    }
    const text = await page.evaluate(async (texts) => {
      const demo = (globalThis as unknown as { clapDemo: { clap: { embedText(t: string[]): Promise<Float32Array[]> } } }).clapDemo;
      return (await demo.clap.embedText(texts)).map((e) => Array.from(e));
    }, fixture.texts);
    text.forEach((e, i) => assertRelClose(i === 0 ? t : undefined, `text ${i} ${JSON.stringify(fixture.texts[i])}`, e, ref.text[i], TOL));
    assert.deepEqual(page.errors, []);
    await page.context().close();
  });
}

test('hf-fused in Node: crop random with a seed replays clap classify --crop random --seed (fusion chunks drawn as numpy draws them)', async () => {
  const ref = refs.get('hf-fused')!;
  const fixture = OTHER_FAMILIES['hf-fused'];
  const long = fixture.audio[0];
  const cli = clapCli({ ...process.env, CLAP_THREADS: '1' });
  const args = ['classify', long, '--labels', LABELS.join(','), ...fixture.weights, '--crop', 'random', '--seed', '7', '--json'];
  const [want] = JSON.parse(await cli.ok(...args)) as { scores: Record<string, number> }[];
  const clap = await Clap.load({ model: ref.files.map((f) => new File([readFileSync(join(ref.dir, f))], f)), threads: 1 });
  try {
    const file = new File([readFileSync(long)], basename(long));
    const [got] = await clap.classify([file], LABELS, { crop: 'random', seed: 7 });
    assert.ok(scoreDiff(got.scores, want.scores) <= TOL, JSON.stringify({ got: got.scores, want: want.scores }));
    const [start] = await clap.classify([file], LABELS);
    assert.ok(scoreDiff(start.scores, want.scores) > TOL, 'the seeded chunks are not the default ones');
  } finally {
    await clap.release();
  }
});
