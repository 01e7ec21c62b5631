/**
 * Builds the page of `clap serve` from web/ into dist/web (run by `npm run build:web`, `prepare` and `npm test`):
 * web/src/main.ts bundled and minified by esbuild into assets/app.js, web/style.css into assets/app.css,
 * and web/index.html copied. Anything else later built into dist/web is served as it is.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'web');

mkdirSync(join(out, 'assets'), { recursive: true });
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
