/**
 * The page in a real browser (headless Chromium via playwright-core): search with results, playback and
 * the keyboard, "more like this", dropped files with labels, captions and "find similar", and indexing
 * progress in the library view. A screenshot of each view goes to test-output/page/ and the view's key
 * elements are checked as the screenshot shows them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { ClapCap } from '../../src/tasks/clapcap.js';
import { launchChromium } from '../helpers/chromium.js';
import { fixturePath } from '../helpers/fixtures.js';
import { tone, writeClips, writeWav } from '../store/audio-helpers.js';
import { serveLibrary, type TestLibrary } from './helpers.js';

const OUT = fileURLToPath(new URL('../../test-output/page/', import.meta.url));
let browser: Browser;
let lib: TestLibrary;
let captioner: ClapCap;

before(async () => {
  mkdirSync(OUT, { recursive: true });
  captioner = await ClapCap.load({ weights: fixturePath('clapcap.pth'), config: fixturePath('config.json'), threads: 1 });
  [browser, lib] = await Promise.all([launchChromium(), serveLibrary(6, { allowRoot: true, captioner, sliding: true })]);
  // A long recording: its hits point to a window inside it.
  writeWav(join(lib.lib, 'long.wav'), tone(300, 9, 16000, 9), 16000);
  await lib.index.add([lib.lib], { decodeThreads: 0 });
});

after(async () => {
  await browser?.close();
  await lib?.close();
  await captioner?.release();
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Failed requests the test causes on purpose show as console errors too: those are checked in the page itself.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text());
  });
  (page as Page & { errors: string[] }).errors = errors;
  await page.goto(`${lib.server.origin}${path}`);
  return page;
}

/** Writes the screenshot and checks that each key element is visible inside it. */
async function screenshot(page: Page, name: string, keys: string[]): Promise<void> {
  const file = join(OUT, `${name}.png`);
  await page.screenshot({ path: file });
  const png = readFileSync(file);
  assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [1200, 860]);
  assert.ok(statSync(file).size > 10_000, `${name}.png is not blank`);
  for (const selector of keys) {
    const box = await page.locator(selector).first().boundingBox();
    assert.ok(box && box.width > 0 && box.height > 0, `${name}: ${selector} is visible`);
    assert.ok(box.y < 860 && box.x < 1200, `${name}: ${selector} is inside the screenshot`);
  }
  assert.deepEqual((page as Page & { errors: string[] }).errors, [], `${name}: no errors in the page`);
}

/** '0:01.5–0:08.5' → [1.5, 8.5]. */
function spanOf(text: string): number[] {
  return text.split('–').map((t) => t.split(':').reduce((m, x) => m * 60 + Number(x), 0));
}

/** Non-transparent pixels drawn on the first canvas matching `selector`. */
function inkOn(page: Page, selector: string): Promise<number> {
  return page
    .locator(selector)
    .first()
    .evaluate((c: HTMLCanvasElement) => {
      const data = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
      return n;
    });
}

test('search: a query in the address ranks the library; typing updates the results and the address; keyboard, playback, details', async () => {
  const page = await open('/?q=a%20steady%20tone');
  await page.waitForSelector('.hit >> nth=6');
  assert.equal(await page.locator('.hit').count(), 7);
  assert.match((await page.locator('.status').textContent()) ?? '', /^7 results · \d+ ms$/);
  const names = await page.locator('.hit .name').allTextContents();
  assert.deepEqual([...names].sort(), [
    'clip000.wav',
    'clip001.wav',
    'clip002.wav',
    'clip003.wav',
    'clip004.wav',
    'clip005.wav',
    'long.wav',
  ]);
  const api = (await (await fetch(`${lib.server.origin}/api/search?q=a%20steady%20tone&top=25`)).json()) as {
    path: string;
    start: number;
    end: number;
  }[];
  assert.deepEqual(
    names,
    api.map((h) => h.path.split('/').pop()),
    'the page shows the API ranking',
  );
  await page.waitForFunction(() => document.querySelectorAll('.hit .duration:not(:empty)').length === 7);
  assert.ok((await inkOn(page, '.hit canvas.wave')) > 500, 'the waveform is drawn');
  // The long file's hit shows its window (and the 1 s clips, whose window is the whole file, none).
  const long = api.find((h) => h.path.endsWith('long.wav'))!;
  const windows = await page.locator('.hit .window:not([hidden])').allTextContents();
  assert.equal(windows.length, 1);
  const [start, end] = spanOf(windows[0]);
  assert.ok(Math.abs(start - long.start) <= 0.05 && Math.abs(end - long.end) <= 0.05, `${windows[0]} shows [${long.start}, ${long.end}]`);
  assert.equal(await page.locator('.hit[data-path$="long.wav"] .duration').textContent(), '0:09.0');

  await page.fill('#q', 'clicks and hum');
  await page.waitForURL(/\?q=clicks\+and\+hum$/);
  await page.fill('#glob', 'clip00[12].wav');
  await page.waitForFunction(() => document.querySelectorAll('.hit').length === 2);
  assert.match(page.url(), /glob=clip00%5B12%5D\.wav/);
  await page.fill('#glob', '');
  await page.waitForFunction(() => document.querySelectorAll('.hit').length === 7);

  // Keyboard: ↓ from the box selects the first result, ↓ the second, space plays it, enter opens it.
  await page.focus('#q');
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  const second = page.locator('.hit').nth(1);
  assert.equal(await second.getAttribute('aria-selected'), 'true');
  const audioResponse = page.waitForResponse((r) => r.url().includes('/api/audio?') && r.ok());
  await page.keyboard.press(' ');
  const response = await audioResponse;
  assert.match(response.headers()['content-type'], /^audio\/wav/);
  await page.waitForFunction(() => {
    const a = document.getElementById('player') as HTMLAudioElement;
    return a.readyState >= 2 && a.currentTime > 0;
  });
  const played = await page.evaluate(() => {
    const a = document.getElementById('player') as HTMLAudioElement;
    return { duration: a.duration, src: decodeURIComponent(a.src) };
  });
  const secondPath = (await second.getAttribute('data-path'))!;
  assert.ok(played.src.includes(`/api/audio?path=${secondPath}`), played.src);
  const expected = secondPath.endsWith('long.wav') ? 9 : 1;
  assert.ok(Math.abs(played.duration - expected) < 0.01, `the audio element loaded the ${expected} s file`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('.hit.open .details code.path');
  await screenshot(page, 'search', ['#q', '.filters', '.hit.selected', '.hit.open .details', '.hit canvas.wave', '.status']);

  // The long file's play button plays its window (as this query ranks it): the audio starts there, not at 0.
  const longRow = page.locator('.hit[data-path$="long.wav"]');
  const [from, to] = spanOf((await longRow.locator('.window').textContent())!);
  await longRow.locator('.play').click();
  await page.waitForFunction((start) => {
    const a = document.getElementById('player') as HTMLAudioElement;
    return !a.paused && a.src.includes('long.wav') && a.currentTime >= start - 0.06;
  }, from);
  const fragment = /#t=([\d.]+),([\d.]+)$/.exec(await page.evaluate(() => (document.getElementById('player') as HTMLAudioElement).src));
  assert.ok(
    fragment && Math.abs(Number(fragment[1]) - from) <= 0.05 && Math.abs(Number(fragment[2]) - to) <= 0.05,
    `plays [${from}, ${to}]`,
  );
  await page.keyboard.press('Escape');
  await second.click();

  // "more like this" (m) on the selection: the page searches by example, the file itself left out.
  const likePath = (await second.getAttribute('data-path'))!;
  await page.keyboard.press('m');
  await page.waitForSelector('.like-chip:not([hidden])');
  await page.waitForFunction(() => document.querySelectorAll('.hit').length === 6);
  assert.ok(!(await page.locator('.hit').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.path))).includes(likePath));
  assert.equal(new URL(page.url()).searchParams.get('like'), likePath, 'shareable');
  await screenshot(page, 'search-like', ['.like-chip', '.hit']);
  await page.close();
});

test('drop files: labels as bars, caption, edited labels, find similar; by file picker and by drag-and-drop', async () => {
  const page = await open('/drop');
  const file = join(lib.lib, 'clip003.wav');
  await page.setInputFiles('#files', file);
  await page.waitForSelector('.card .bars li >> nth=9');
  assert.equal(await page.locator('.card .bars li').count(), 10, 'the default label set');
  await page.waitForFunction(() => /^“.+”$/.test(document.querySelector('.card .caption')?.textContent ?? ''));
  const ps = (await page.locator('.card .bars .p').allTextContents()).map(Number);
  assert.ok(
    ps.every((p, i) => i === 0 || p <= ps[i - 1]),
    'most probable first',
  );
  assert.ok(Math.abs(ps.reduce((a, b) => a + b, 0) - 1) < 0.01, 'softmax across the labels');

  await page.fill('#labels', 'alpha, beta, gamma');
  await page.click('#relabel');
  await page.waitForFunction(() => document.querySelectorAll('.card .bars li').length === 3);
  assert.deepEqual([...(await page.locator('.card .bars .label').allTextContents())].sort(), ['alpha', 'beta', 'gamma']);

  await page.click('.card .similar');
  await page.waitForSelector('.card .results .hit');
  assert.equal(await page.locator('.card .results .hit').first().getAttribute('data-path'), file, 'a library file finds itself first');

  // Drag and drop a second file.
  const bytes = [...readFileSync(join(lib.lib, 'clip004.wav'))];
  await page.evaluate((data) => {
    const dt = new DataTransfer();
    dt.items.add(new File([new Uint8Array(data)], 'dropped.wav', { type: 'audio/wav' }));
    document.querySelector('.dropzone')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, bytes);
  await page.waitForFunction(
    () =>
      document.querySelectorAll('.card').length === 2 && document.querySelectorAll('.card')[0].querySelectorAll('.bars li').length === 3,
  );
  assert.equal(await page.locator('.card .name').first().textContent(), 'dropped.wav');

  // A file that is not audio: a clear message on its card, the others stay.
  writeFileSync(join(lib.root, 'notes.wav'), 'these are not sounds');
  await page.setInputFiles('#files', join(lib.root, 'notes.wav'));
  await page.waitForFunction(() => /not a recognised audio format/.test(document.querySelector('.card .error')?.textContent ?? ''));
  await page.locator('.card').first().locator('.remove').click();
  await page.waitForFunction(() => document.querySelectorAll('.card').length === 2);
  await page.evaluate(() => window.scrollTo(0, 0));
  assert.ok((await inkOn(page, '.card canvas.wave.big')) > 500, 'the dropped file is drawn');
  await screenshot(page, 'drop', ['.dropzone', '#labels', '.card .bars li', '.card .caption', '.card canvas.wave.big']);
  await page.close();
});

test('library: what is indexed; adding a folder shows live progress, rate and failures; the count follows', async () => {
  const more = join(lib.root, 'more');
  writeClips(more, 24, 'more');
  writeFileSync(join(more, 'broken.wav'), 'RIFF garbage');
  const page = await open('/library');
  await page.waitForSelector('.stat');
  assert.deepEqual(await page.locator('.stat dd').first().textContent(), '7');
  assert.equal(await page.locator('.roots code').first().textContent(), lib.lib);

  // Every text the job line shows, in order, as the page renders it.
  await page.evaluate(() => {
    const seen: string[] = [];
    (window as unknown as { seen: string[] }).seen = seen;
    new MutationObserver(() => {
      for (const li of document.querySelectorAll('.job'))
        seen.push(`${(li as HTMLElement).dataset.state}|${li.querySelector('.job-summary')?.textContent}`);
    }).observe(document.querySelector('.jobs')!, { childList: true, subtree: true });
  });
  await page.fill('#add-path', more);
  await page.click('form.add button[type=submit]');
  await page.waitForSelector('.job[data-state=done]', { timeout: 60_000 });
  const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
  assert.ok(
    seen.some((s) => /^running\|\d+ \/ 25 files/.test(s)),
    `progress was shown while indexing: ${JSON.stringify(seen.slice(0, 5))}`,
  );
  await page.waitForFunction(() => document.querySelector('.stat dd')?.textContent === '31');
  assert.match(
    (await page.locator('.job .job-summary').first().textContent()) ?? '',
    /^24 added, 0 updated, 0 unchanged, 0 removed, 1 skipped/,
  );
  await page.locator('.failures summary').click();
  assert.match((await page.locator('.failures li').first().textContent()) ?? '', /broken\.wav: /);
  assert.equal(await page.locator('.roots li').count(), 2);
  await page.fill('#add-path', '/etc');
  await page.click('form.add button[type=submit]');
  await page.waitForFunction(() => /outside the library/.test(document.querySelector('.library-view .error')?.textContent ?? ''));
  await screenshot(page, 'library', ['.stats', '.roots', '#add-path', '.job[data-state=done]', '.failures li']);
  await page.close();
});
