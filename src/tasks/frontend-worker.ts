/**
 * Worker thread of the audio pipeline (pipeline.ts): the frontend (decode + resample + window + log-mel),
 * or hash-then-frontend for a file, on one input per message; replies with the log-mels (transferred, not
 * copied) or a serialised error.
 */
import { parentPort } from 'node:worker_threads';
import { ClapError } from '../errors.js';
import { fileFrontend, frontend, type FrontendJob, type FrontendReply } from './pipeline.js';

const port = parentPort;
if (!port) throw new Error('frontend-worker.ts must run in a worker thread');

port.on('message', (job: FrontendJob) => {
  void (async () => {
    let reply: FrontendReply;
    try {
      reply = job.file
        ? { id: job.id, file: await fileFrontend(job.input as string, job.options, job.file.knownHash) }
        : { id: job.id, result: await frontend(job.input, job.options) };
    } catch (e) {
      const err = e as Error;
      reply = { id: job.id, error: { message: err.message, clap: e instanceof ClapError, subject: (e as ClapError).subject } };
    }
    const logmels = reply.result?.logmels ?? (reply.file?.ok && !reply.file.unchanged ? reply.file.logmels : []);
    port.postMessage(
      reply,
      logmels.map((m) => m.buffer as ArrayBuffer),
    );
  })();
});
