/**
 * The README's picture of `clap serve`: serves an index, opens a search in headless Chromium and saves
 * the search view.
 *
 *   node --import tsx scripts/serve-screenshot.ts --db sounds.db [--weights W] [--q "TEXT" | --like FILE] [--out docs/serve-search.png]
 */
import { parseArgs } from 'node:util';
import { startServer } from '../src/server/index.js';
import { Clap } from '../src/tasks/clap.js';
import { ClapIndex } from '../src/tasks/clap-index.js';
import { launchChromium } from '../test/helpers/chromium.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    weights: { type: 'string' },
    config: { type: 'string' },
    q: { type: 'string' },
    like: { type: 'string' },
    out: { type: 'string', default: 'docs/serve-search.png' },
  },
});
if (!values.db || (!values.q && !values.like)) throw new Error('give --db and --q TEXT or --like FILE');
const recorded = await ClapIndex.open(values.db);
const weights = values.weights ?? recorded.recorded.weightsPath;
const config = values.config ?? recorded.recorded.configPath;
await recorded.close();
if (!weights) throw new Error('give --weights');
const clap = await Clap.load({ weights, config });
const index = await ClapIndex.open(values.db, { clap });
const server = await startServer({ clap, index, log: () => {} });
const browser = await launchChromium();
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 760 }, deviceScaleFactor: 1 });
  const query = values.like ? `like=${encodeURIComponent(values.like)}` : `q=${encodeURIComponent(values.q!)}`;
  await page.goto(`${server.origin}/?${query}&top=10`);
  await page.waitForSelector('.hit');
  // Rows load their waveform once they scroll into view: wait for those on screen.
  await page.waitForFunction(() => [...document.querySelectorAll('.hit .duration')].slice(0, 5).every((d) => d.textContent !== ''));
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('ArrowDown');
  await page.mouse.move(0, 0);
  await page.screenshot({ path: values.out });
  console.log(values.out);
} finally {
  await browser.close();
  await server.close();
  await index.close();
  await clap.release();
}
