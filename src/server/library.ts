/**
 * Changes to the library requested from the page (add a folder, sync, remove), run one at a time in
 * the order asked, through ClapIndex's own crash-safe path (each encoder batch is its own commit, so
 * stopping the server mid-run loses at most that batch). Progress is published as events for the page.
 */
import { EventEmitter } from 'node:events';
import type { ClapIndex, IndexReport, IndexRunOptions } from '../tasks/clap-index.js';
import type { JobKind, JobView } from './schemas.js';

/** Failures kept per job (the rest are counted). */
const FAILURES_KEPT = 100;
/** Finished jobs remembered for the page. */
const HISTORY = 20;
/** Progress events per job per second, at most. */
const EVENTS_PER_S = 5;

function reportOf(r: IndexReport): NonNullable<JobView['report']> {
  return {
    added: r.added,
    updated: r.updated,
    unchanged: r.unchanged,
    removed: r.removed,
    skipped: r.skipped.length,
    files: r.files,
    seconds: r.seconds,
    pending: r.pending,
  };
}

export class Library extends EventEmitter<{ job: [JobView] }> {
  private readonly jobs: JobView[] = [];
  private tail: Promise<void> = Promise.resolve();
  private nextId = 1;
  private readonly stopping = new AbortController();

  constructor(
    private readonly index: ClapIndex,
    private readonly runOptions: Pick<IndexRunOptions, 'batchSize' | 'decodeThreads'> = {},
  ) {
    super();
  }

  /** The jobs still queued or running, then the latest finished ones, newest first. */
  list(): JobView[] {
    return [...this.jobs].reverse();
  }

  /** Queues a change; it starts when those before it are finished. */
  enqueue(kind: JobKind, path?: string): JobView {
    const job: JobView = {
      id: this.nextId++,
      kind,
      path,
      state: 'queued',
      done: 0,
      total: 0,
      filesPerS: null,
      etaS: null,
      failures: [],
      failureCount: 0,
    };
    this.jobs.push(job);
    const finished = this.jobs.filter((j) => j.state === 'done' || j.state === 'failed');
    for (const old of finished.slice(0, Math.max(0, finished.length - HISTORY))) this.jobs.splice(this.jobs.indexOf(old), 1);
    this.emit('job', { ...job });
    this.tail = this.tail.then(() => this.run(job));
    return { ...job };
  }

  /** Resolves once every queued change is finished. */
  idle(): Promise<void> {
    return this.tail;
  }

  /** Stops the running change after its batch in flight, and the queued ones before they start. */
  stop(): Promise<void> {
    this.stopping.abort();
    return this.tail;
  }

  private async run(job: JobView): Promise<void> {
    if (this.stopping.signal.aborted) {
      job.state = 'stopped';
      this.emit('job', { ...job });
      return;
    }
    job.state = 'running';
    this.emit('job', { ...job });
    const t0 = performance.now();
    let lastEmit = 0;
    const options: IndexRunOptions = {
      ...this.runOptions,
      signal: this.stopping.signal,
      onProgress: ({ done, total, path }) => {
        job.done = done;
        job.total = total;
        if (path !== undefined) job.current = path;
        const elapsed = (performance.now() - t0) / 1000;
        job.filesPerS = done > 0 ? done / elapsed : null;
        job.etaS = job.filesPerS ? (total - done) / job.filesPerS : null;
        const now = performance.now();
        if (now - lastEmit >= 1000 / EVENTS_PER_S || done === total) {
          lastEmit = now;
          this.emit('job', { ...job, failures: [...job.failures] });
        }
      },
      onSkip: (s) => {
        job.failureCount++;
        if (job.failures.length < FAILURES_KEPT) job.failures.push({ path: s.path, reason: s.reason });
      },
    };
    try {
      if (job.kind === 'remove') {
        const removed = await this.index.remove([job.path!]);
        const files = (await this.index.stats()).files;
        job.report = {
          added: 0,
          updated: 0,
          unchanged: 0,
          removed,
          skipped: 0,
          files,
          seconds: (performance.now() - t0) / 1000,
          pending: 0,
        };
        job.state = 'done';
      } else {
        const report = job.kind === 'add' ? await this.index.add([job.path!], options) : await this.index.sync(options);
        job.report = reportOf(report);
        job.state = report.interrupted ? 'stopped' : 'done';
      }
    } catch (e) {
      job.state = 'failed';
      job.error = (e as Error).message.replace(/\s*\n\s*/g, ' ');
    }
    job.etaS = job.state === 'done' ? 0 : null;
    this.emit('job', { ...job, failures: [...job.failures] });
  }
}
