/**
 * Worker thread of the audio pipeline (pipeline.ts): one job per message (the frontend, hash-then-frontend
 * for a file, or a training clip's whole log-mel); replies with the log-mels (transferred, not copied) or
 * a serialised error.
 */
import { parentPort } from 'node:worker_threads';
import { type FrontendJob, runFrontendJob } from './pipeline.js';

const port = parentPort;
if (!port) throw new Error('frontend-worker.ts must run in a worker thread');

port.on('message', (job: FrontendJob) => {
  void runFrontendJob(job).then(({ reply, transfer }) => port.postMessage(reply, transfer));
});
