/**
 * The decode side of indexing: hash a file, decode it, cut its windows and compute their log-mels —
 * in worker threads, so that decoding the next files overlaps the encoder working on the current ones.
 * `threads: 0` decodes on the calling thread (same results).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ClapError } from '../errors.js';
import { audioToLogMel, type LoadAudioOptions } from '../audio/index.js';

export interface DecodeJob {
  path: string;
  options: LoadAudioOptions;
  /** When the file's hash equals this, it is not decoded (`unchanged: true`). */
  knownHash?: string;
}

export type DecodeResult =
  | { ok: true; unchanged: true; hash: string }
  | {
    ok: true; unchanged: false; hash: string; duration: number; sampleRate: number; channels: number;
    logmels: Float32Array[]; starts: number[]; ends: number[];
  }
  | { ok: false; error: string };

export async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function decodeForIndex(job: DecodeJob): Promise<DecodeResult> {
  try {
    const hash = await hashFile(job.path);
    if (job.knownHash === hash) return { ok: true, unchanged: true, hash };
    const { logmels, audio } = await audioToLogMel(job.path, job.options);
    return {
      ok: true, unchanged: false, hash, duration: audio.durationS, sampleRate: audio.sourceSampleRate, channels: audio.channels,
      logmels, starts: audio.starts, ends: audio.ends,
    };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    let msg = e instanceof ClapError ? err.message : err.code ? `cannot read (${err.code})` : err.message;
    if (msg.startsWith(`${job.path}: `)) msg = msg.slice(job.path.length + 2);
    return { ok: false, error: msg };
  }
}

export function defaultDecodeThreads(): number {
  return Math.max(1, Math.min(4, Math.floor(availableParallelism() / 2)));
}

interface Pending { resolve: (r: DecodeResult) => void; reject: (e: Error) => void }

/** A fixed set of decode workers; jobs go to the least busy one. */
export class DecodePool {
  private readonly workers: { worker: Worker; busy: number }[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure?: Error;

  constructor(readonly threads: number) {
    if (threads <= 0) return;
    // Built, this module is .js; under tsx (tests, bench) it is the .ts source, and a worker needs tsx registered.
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(`./index-worker.${fromSource ? 'ts' : 'js'}`, import.meta.url);
    for (let i = 0; i < threads; i++) {
      const worker = fromSource
        ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => m.register()).then(() => import(${JSON.stringify(url.href)}))`, { eval: true })
        : new Worker(url);
      worker.unref();
      const slot = { worker, busy: 0 };
      worker.on('message', (m: { id: number; result: DecodeResult }) => {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        slot.busy--;
        p?.resolve(m.result);
      });
      worker.on('error', (e) => this.fail(e));
      worker.on('exit', (code) => { if (code !== 0) this.fail(new Error(`decode worker exited with code ${code}`)); });
      this.workers.push(slot);
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  decode(job: DecodeJob): Promise<DecodeResult> {
    if (this.workers.length === 0) return decodeForIndex(job);
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.workers.reduce((a, b) => (b.busy < a.busy ? b : a));
    const id = this.nextId++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      slot.worker.postMessage({ id, job });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
