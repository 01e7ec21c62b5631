/** How the browser library `clap-ts/web` is bundled: shared by scripts/build-web.ts and the bundle test. */
import type { BuildOptions } from 'esbuild';

/** onnxruntime-web's WASM build with WebGPU (JSEP): the one its default entry loads. */
export const ORT_FILES = ['ort-wasm-simd-threaded.jsep.mjs', 'ort-wasm-simd-threaded.jsep.wasm'];

/**
 * How the library is bundled (the bundle test builds it the same way). onnxruntime-web's entry that loads
 * its WASM from files (ort/), not the one that inlines it into the bundle.
 */
export const LIBRARY_BUILD: BuildOptions = {
  bundle: true,
  format: 'esm',
  // Decoders are imported when a file needs them: each its own file, loaded then (Opus alone is 4 MB).
  splitting: true,
  // Beside the entry points, so that every part finds ort/ at the same place.
  chunkNames: 'clap-[hash]',
  platform: 'browser',
  target: ['chrome113', 'firefox120', 'safari17'],
  conditions: ['onnxruntime-web-use-extern-wasm'],
  logLevel: 'warning',
};
