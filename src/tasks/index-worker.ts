/** Worker thread of DecodePool (index-decode.ts): decodes one file per message, log-mels transferred back. */
import { parentPort } from 'node:worker_threads';
import { decodeForIndex, type DecodeJob } from './index-decode.js';

parentPort!.on('message', (m: { id: number; job: DecodeJob }) => {
  void decodeForIndex(m.job).then((result) => {
    const transfer = result.ok && !result.unchanged ? result.logmels.map((l) => l.buffer as ArrayBuffer) : [];
    parentPort!.postMessage({ id: m.id, result }, transfer);
  });
});
