/**
 * Bench section for the browser build (issue 15): the full-size CLAP 2023 (random weights) exported by
 * `clap export onnx`, loaded by clap-ts/web in headless Chromium (onnxruntime-web, WASM, one thread: the
 * page is not cross-origin isolated) — audio clips/s (decode-free 7 s clips at 48 kHz: resampling, window,
 * model) and 10 labels' text embeddings — next to the Node library on the same inputs in this process.
 * Wall-clock times: the page's CPU time is not measurable from here.
 */
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../test/helpers/chromium.js';
import { fullSizeClap, LABELS } from './model.js';
import type { Section } from './sections.js';
import { fmt, timeCpu } from './util.js';

const RATE = 48000;
const CLIPS = 4;
const TEXTS = LABELS.map((l) => `this is the sound of ${l}`);
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** A static server: dist/web at /, the export at /models/. */
async function serveStatic(web: string, models: string): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const file = path.startsWith('/models/') ? join(models, path.slice('/models/'.length)) : join(web, path);
    if (!existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, origin: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` };
}

/** A 7 s test signal (a tone over noise), the same in Node and in the page. */
function clip(seed: number): Float32Array {
  const x = new Float32Array(RATE * 7);
  let s = seed;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    x[i] = 0.3 * Math.sin((2 * Math.PI * (220 + 40 * seed) * i) / RATE) + 0.05 * (s / 2147483648 - 0.5);
  }
  return x;
}

interface PageTimes {
  loadMs: number;
  audioMsPerClip: number;
  textMs: number;
}

/** In the page: load the export, then time CLIPS clips one at a time and the 10 labels (after a warm-up each). */
async function pageTimes(origin: string, clips: number[][]): Promise<PageTimes> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    await page.goto(`${origin}/demo/index.html`);
    return await page.evaluate(
      async ({ clips, texts, rate }) => {
        const url = '/clap.js';
        const { Clap } = (await import(url)) as typeof import('../src/web/index.js');
        let t = performance.now();
        const clap = await Clap.load({ model: '/models/', cache: false });
        const loadMs = performance.now() - t;
        const inputs = clips.map((c) => ({ samples: Float32Array.from(c), sampleRate: rate }));
        await clap.embedAudio([inputs[0]]);
        t = performance.now();
        for (const x of inputs) await clap.embedAudio([x]);
        const audioMsPerClip = (performance.now() - t) / inputs.length;
        await clap.embedText(texts);
        const runs: number[] = [];
        for (let i = 0; i < 5; i++) {
          t = performance.now();
          await clap.embedText(texts.map((s) => `${s}${'.'.repeat(i + 1)}`));
          runs.push(performance.now() - t);
        }
        return { loadMs, audioMsPerClip, textMs: runs.sort((a, b) => a - b)[2] };
      },
      { clips, texts: TEXTS, rate: RATE },
    );
  } finally {
    await browser.close();
  }
}

export const webSection: Section = {
  name: 'browser: clap-ts/web in headless Chromium (onnxruntime-web wasm), full-size model, next to Node',
  async run(result, rows) {
    const clap = await fullSizeClap();
    const web = fileURLToPath(new URL('../dist/web/', import.meta.url));
    if (!existsSync(join(web, 'clap.js'))) throw new Error('dist/web/clap.js is missing: run npm run build:web');
    const root = mkdtempSync(join(tmpdir(), 'clap-bench-web-'));
    const { server, origin } = await serveStatic(web, root);
    try {
      await clap.exportOnnx(root);
      const clips = Array.from({ length: CLIPS }, (_, i) => clip(i + 1));
      // New texts on every run: a label set seen before comes from the embedding cache.
      let run = 0;
      const node = {
        audio: await timeCpu(() => clap.embedAudio([{ samples: clips[run++ % CLIPS], sampleRate: RATE }], { workers: 0 }), CLIPS, 1),
        text: await timeCpu(() => clap.embedText(TEXTS.map((s) => `${s}${'.'.repeat(++run)}`)), 5, 1),
      };
      let page: PageTimes | undefined;
      try {
        page = await pageTimes(
          origin,
          clips.map((c) => Array.from(c)),
        );
      } catch (e) {
        rows.push({ what: 'in the browser', value: `skipped: ${(e as Error).message.split('\n')[0]}` });
      }
      result.web = { page, node_audio_clips_per_s: 1 / node.audio.wall, node_text_ms_10_labels: node.text.wall * 1000 };
      if (!page) return;
      const nodeAudio = `Node ${fmt(1 / node.audio.wall)}, ${fmt(node.audio.cpu)} CPU-s/clip`;
      rows.push({
        what: 'audio clips/s in the browser (7 s at 48 kHz, batch 1)',
        value: `${fmt(1000 / page.audioMsPerClip)} (${nodeAudio}; resampling, window and model)`,
      });
      const load = `model load ${fmt(page.loadMs / 1000)} s (download from localhost + compile)`;
      rows.push({
        what: 'text, 10 labels in the browser (ms)',
        value: `${fmt(page.textMs)} (Node ${fmt(node.text.wall * 1000)}); ${load}`,
      });
    } finally {
      server.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
};
