/**
 * Builds dist/web (run by `npm run build:web`, `prepare` and `npm test`), all of it static and served as it is
 * by `clap serve`:
 * - the page of `clap serve`: web/src/main.ts bundled and minified by esbuild into assets/app.js,
 *   web/style.css into assets/app.css, web/index.html copied;
 * - the browser library `clap-ts/web`: src/web/index.ts into clap.js, with onnxruntime-web's WASM build
 *   (SIMD, threads, WebGPU) in ort/ beside it, where the library looks for it;
 * - the demo page: web/demo/demo.ts into demo.js (beside clap.js, so it finds ort/ the same way),
 *   web/demo/index.html and demo.css into demo/.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { LIBRARY_BUILD, ORT_FILES } from './web-bundle.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'web');

mkdirSync(join(out, 'assets'), { recursive: true });
mkdirSync(join(out, 'demo'), { recursive: true });
mkdirSync(join(out, 'ort'), { recursive: true });
// The library's parts are named by hash: those of an earlier build go.
for (const f of readdirSync(out)) if (/^(clap|demo)[.-]/.test(f)) rmSync(join(out, f));
await build({
  entryPoints: { app: join(root, 'web', 'src', 'main.ts'), 'app-style': join(root, 'web', 'style.css') },
  outdir: join(out, 'assets'),
  entryNames: '[name]',
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  logLevel: 'warning',
});
copyFileSync(join(root, 'web', 'index.html'), join(out, 'index.html'));

await build({
  ...LIBRARY_BUILD,
  entryPoints: { clap: join(root, 'src', 'web', 'index.ts'), demo: join(root, 'web', 'demo', 'demo.ts') },
  outdir: out,
  entryNames: '[name]',
  minify: true,
  sourcemap: true,
});
await build({
  entryPoints: [join(root, 'web', 'demo', 'demo.css')],
  outdir: join(out, 'demo'),
  bundle: true,
  minify: true,
  logLevel: 'warning',
});
copyFileSync(join(root, 'web', 'demo', 'index.html'), join(out, 'demo', 'index.html'));
const ortDist = dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.jsep.wasm'));
for (const f of ORT_FILES) copyFileSync(join(ortDist, f), join(out, 'ort', f));
