/**
 * Progress for long work: a redrawn bar with rate and ETA on a TTY, plain periodic lines otherwise
 * (logs stay readable), nothing when quiet.
 */
import type { TrainEvent } from '../tasks/train/index.js';

type Stream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;
  /** The finished line is out: later ticks (a caller reporting the total again) draw nothing. */
  private finishedShown = false;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: Stream,
    private readonly enabled = true,
  ) {}

  tick(n = 1, note = ''): void {
    this.done += n;
    if (!this.enabled) return;
    const now = performance.now();
    const finished = this.done >= this.total;
    const interval = this.stream.isTTY ? 100 : 5000;
    if (finished ? this.finishedShown : now - this.lastDraw < interval) return;
    this.draw(now, note);
  }

  /** Work stopped short of the total (interrupted): the bar shows where, and the next line starts clean. */
  stop(): void {
    if (!this.enabled || this.done >= this.total || this.lastDraw === 0) return;
    this.draw(performance.now(), '');
    if (this.stream.isTTY) this.stream.write('\n');
  }

  private draw(now: number, note: string): void {
    const finished = this.done >= this.total;
    this.lastDraw = now;
    this.finishedShown = finished;
    const elapsed = (now - this.start) / 1000;
    const rate = this.done / Math.max(elapsed, 1e-9);
    const eta = rate > 0 ? (this.total - this.done) / rate : Infinity;
    const stats = `${this.done}/${this.total} ${rate.toFixed(1)}/s ETA ${formatSeconds(eta)}${note ? ` ${note}` : ''}`;
    if (this.stream.isTTY) {
      const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - this.label.length - stats.length - 6));
      const filled = Math.round((width * this.done) / Math.max(this.total, 1));
      this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${stats}\x1b[K${finished ? '\n' : ''}`);
    } else {
      this.stream.write(`${this.label}: ${stats}\n`);
    }
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  const sec = Math.round(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}

/**
 * A training run's events (tasks/train/loop.ts) as progress: `skipped PATH: reason` for each file left
 * out, the step line (loss, learning rate, rate, ETA) redrawn on a TTY or printed every 10 s otherwise,
 * and one line per epoch with its held-out metrics (epochs without any are shown at most every 10 s, so
 * a probe's 300 one-step epochs stay quiet).
 */
export class TrainProgress {
  private epochs = 0;
  private totalSteps = 0;
  private examplesPerStep = 1;
  private lastStepLine = 0;
  private lastEpochLine = 0;
  private redrawn = false;

  constructor(private readonly stream: Stream) {}

  /** Pass as the trainer's `onEvent`. */
  readonly event = (e: TrainEvent): void => {
    const now = performance.now();
    if (e.type === 'skip') this.line(`skipped ${e.path}: ${e.reason}`);
    else if (e.type === 'start' || e.type === 'resume') {
      this.epochs = Number(e.epochs);
      this.totalSteps = Number(e.total_steps);
      this.examplesPerStep = Number(e.batch) * Number(e.accumulate ?? 1);
      if (e.type === 'resume') this.line(`resuming at step ${e.step} (epoch ${Number(e.epoch) + 1}/${this.epochs})`);
    } else if (e.type === 'step') {
      const tty = this.stream.isTTY === true;
      if (now - this.lastStepLine < (tty ? 200 : 10_000) && e.step !== 1) return;
      this.lastStepLine = now;
      const rate = Number(e.examples_per_s);
      const eta = ((this.totalSteps - Number(e.step)) * this.examplesPerStep) / rate;
      const text =
        `step ${e.step}/${this.totalSteps} epoch ${Number(e.epoch) + 1}/${this.epochs} loss ${Number(e.loss).toFixed(4)} ` +
        `lr ${Number(e.lr).toExponential(2)} ${rate.toFixed(1)} examples/s ETA ${formatSeconds(eta)}`;
      if (tty) {
        this.stream.write(`\r${text}\x1b[K`);
        this.redrawn = true;
      } else this.stream.write(`${text}\n`);
    } else if (e.type === 'epoch') {
      const held = describeHeldOut(e);
      if (!held && e.epoch !== this.epochs && now - this.lastEpochLine < 10_000) return;
      this.lastEpochLine = now;
      this.line(
        `epoch ${e.epoch}/${this.epochs}: train loss ${Number(e.train_loss).toFixed(4)}${held ? ` ${held}` : ''}${e.best && held ? ' (best)' : ''}`,
      );
    }
  };

  /** Ends a redrawn line (before the command's own output). */
  stop(): void {
    if (this.redrawn) this.stream.write('\r\x1b[K');
    this.redrawn = false;
  }

  private line(text: string): void {
    this.stop();
    this.stream.write(`${text}\n`);
  }
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** An epoch's held-out metrics in words: retrieval, zero-shot accuracy, classification accuracy. */
function describeHeldOut(e: TrainEvent): string {
  const v = e.val as Record<string, number> | undefined;
  if (!v) return '';
  const parts: string[] = [];
  if (v.a2t_r10 !== undefined) parts.push(`R@1 ${pct(v.a2t_r1)} R@10 ${pct(v.a2t_r10)} (a→t)`);
  if (v.zero_shot_acc !== undefined) parts.push(`zero-shot ${pct(v.zero_shot_acc)} of ${v.zero_shot_classes} classes`);
  if (v.accuracy !== undefined) parts.push(`held-out accuracy ${pct(v.accuracy)}`);
  return parts.join(', ');
}
