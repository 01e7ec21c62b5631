/**
 * Bench section for `clap serve` (issue 14): search latency through the HTTP API — p50/p95 over 200
 * distinct text queries on a 10k-file index with the full-size model (random weights), next to the same
 * searches in-process (the difference is what HTTP, validation and JSON cost) — and the time from opening
 * a search address in headless Chromium to the first result on the page.
 *
 * The index holds 10k synthetic 1024-d vectors (bench/store.ts's structured generator) under the model's
 * identity, so every query runs the real text tower and a real exact scan. Latencies are wall-clock; the CPU
 * time per query (this process: server and client) holds on a busy machine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../src/server/index.js';
import { LanceStore } from '../src/store/lance.js';
import { rowModelId } from '../src/store/meta.js';
import { ClapIndex } from '../src/tasks/clap-index.js';
import { launchChromium } from '../test/helpers/chromium.js';
import { fullSizeClap } from './model.js';
import type { Section } from './sections.js';
import { VectorSource } from './vectors.js';
import { fmt } from './util.js';

const FILES = 10_000;
const QUERIES = 200;
const PAGE_LOADS = 10;

const ADJECTIVES = ['distant', 'loud', 'soft', 'metallic', 'wet', 'echoing', 'muffled', 'sharp', 'low', 'rhythmic'];
const SOURCES = ['dog', 'door', 'engine', 'crowd', 'bell', 'bird', 'drum', 'train', 'voice', 'wind'];
const ACTIONS = ['barking', 'creaking', 'humming'];

/** 300 distinct descriptions ("a distant dog barking", ...): no two queries share a text. */
const queries = (): string[] => ADJECTIVES.flatMap((a) => SOURCES.flatMap((s) => ACTIONS.map((v) => `a ${a} ${s} ${v}`)));

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

export const serveSection: Section = {
  name: 'serve: search latency through the API (10k files) and time to first result in the page',
  async run(result, rows) {
    const clap = await fullSizeClap();
    const root = mkdtempSync(join(tmpdir(), 'clap-bench-serve-'));
    const db = join(root, 'db');
    try {
      let index = await ClapIndex.open(db, { clap, create: true });
      const store = await LanceStore.open(db, { dim: index.model.dim });
      const src = new VectorSource(7);
      const model = rowModelId(index.model);
      await store.append(
        Array.from({ length: FILES }, (_, i) => ({
          path: `/library/folder${String(i % 100).padStart(2, '0')}/sound${i}.wav`,
          hash: '',
          size: 0,
          mtimeMs: 0,
          duration: 1 + (i % 30),
          sampleRate: 44100,
          channels: 1,
          model,
          embedding: src.next(),
        })),
      );
      await store.close();
      await index.close();
      index = await ClapIndex.open(db, { clap });
      const server = await startServer({ clap, index, log: () => {} });
      try {
        const all = queries();
        for (const q of all.slice(QUERIES, QUERIES + 5)) await index.search(q); // compile the text tower, warm the store
        const api: number[] = [];
        let cpu = process.cpuUsage();
        for (const q of all.slice(0, QUERIES)) {
          const t = performance.now();
          const r = await fetch(`${server.origin}/api/search?q=${encodeURIComponent(q)}&top=25`);
          if (!r.ok) throw new Error(`search failed: ${r.status} ${await r.text()}`);
          await r.json();
          api.push(performance.now() - t);
        }
        const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000 / QUERIES;
        const apiCpu = cpuMs(process.cpuUsage(cpu));
        const direct: number[] = [];
        cpu = process.cpuUsage();
        // Other texts than above (a text seen before could come from the embedding cache).
        for (const q of all.slice(0, QUERIES).map((q) => `${q}.`)) {
          const t = performance.now();
          await index.search(q, { top: 25 });
          direct.push(performance.now() - t);
        }
        const directCpu = cpuMs(process.cpuUsage(cpu));
        const serve: Record<string, unknown> = {
          files: FILES,
          queries: QUERIES,
          api_search_ms: { p50: percentile(api, 50), p95: percentile(api, 95), cpu_per_query: apiCpu },
          in_process_search_ms: { p50: percentile(direct, 50), p95: percentile(direct, 95), cpu_per_query: directCpu },
        };
        rows.push({
          what: `search through the API, ${FILES / 1000}k files (ms)`,
          value:
            `p50 ${fmt(percentile(api, 50))}, p95 ${fmt(percentile(api, 95))} over ${QUERIES} queries, ` +
            `${fmt(apiCpu)} CPU-ms each (server and client); ` +
            `in-process p50 ${fmt(percentile(direct, 50))}, p95 ${fmt(percentile(direct, 95))}, ${fmt(directCpu)} CPU-ms each`,
        });

        let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
        try {
          browser = await launchChromium();
        } catch (e) {
          rows.push({ what: 'time to first result in the page', value: `skipped: ${(e as Error).message}` });
        }
        if (browser) {
          try {
            const page = await browser.newPage();
            // Records when the first result row enters the page, on the page's own clock (0 = navigation start).
            await page.addInitScript(() => {
              new MutationObserver((_, observer) => {
                if (document.querySelector('.hit')) {
                  (window as unknown as { firstHit: number }).firstHit = performance.now();
                  observer.disconnect();
                }
              }).observe(document, { childList: true, subtree: true });
            });
            const firstHit: number[] = [];
            for (const q of all.slice(QUERIES + 5, QUERIES + 5 + PAGE_LOADS + 1)) {
              await page.goto(`${server.origin}/?q=${encodeURIComponent(q)}`);
              await page.waitForSelector('.hit');
              firstHit.push(await page.evaluate(() => (window as unknown as { firstHit: number }).firstHit));
            }
            firstHit.shift(); // the first load also compiles the page's scripts into the browser's cache
            serve.page_first_result_ms = { p50: percentile(firstHit, 50), max: Math.max(...firstHit), loads: PAGE_LOADS };
            rows.push({
              what: 'time to first result in the page (ms)',
              value:
                `p50 ${fmt(percentile(firstHit, 50))}, max ${fmt(Math.max(...firstHit))} over ${PAGE_LOADS} loads of /?q=… ` +
                '(headless Chromium: navigation start → first row)',
            });
          } finally {
            await browser.close();
          }
        }
        result.serve = serve;
      } finally {
        await server.close();
        await index.close();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};
