/** Worker thread of FeaturePool: path → whole-clip log-mel (transferred back). */
import { parentPort } from 'node:worker_threads';
import { computeFeatures } from './features.js';

parentPort!.on('message', (m: { path: string; maxSeconds: number }) => {
  computeFeatures(m.path, m.maxSeconds).then(
    (data) => parentPort!.postMessage({ ok: true, data }, [data.buffer as ArrayBuffer]),
    (e: unknown) => parentPort!.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e) }),
  );
});
