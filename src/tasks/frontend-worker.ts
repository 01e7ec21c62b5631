/**
 * Worker thread of the audio pipeline (pipeline.ts): decode + resample + window + log-mel for one input
 * per message, replies with the log-mels (transferred, not copied) or a serialised error.
 */
import { parentPort } from 'node:worker_threads';
import { ClapError } from '../errors.js';
import { audioToLogMel } from '../audio/index.js';
import type { FrontendJob, FrontendReply } from './pipeline.js';

const port = parentPort;
if (!port) throw new Error('frontend-worker.ts must run in a worker thread');

port.on('message', (job: FrontendJob) => {
  void (async () => {
    let reply: FrontendReply;
    try {
      const { logmels, audio } = await audioToLogMel(job.input, job.options);
      reply = { id: job.id, logmels, starts: audio.starts, ends: audio.ends };
    } catch (e) {
      const err = e as Error;
      reply = { id: job.id, error: { message: err.message, clap: e instanceof ClapError, subject: (e as ClapError).subject } };
    }
    port.postMessage(reply, reply.logmels ? reply.logmels.map((m) => m.buffer as ArrayBuffer) : []);
  })();
});
