/**
 * Progress for long work: a redrawn bar with rate and ETA on a TTY, plain periodic lines otherwise
 * (logs stay readable), nothing when quiet.
 */
export class Progress {
  private done = 0;
  private readonly start = performance.now();
  private lastDraw = 0;

  constructor(
    private readonly total: number,
    private readonly label: string,
    private readonly stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    private readonly enabled = true,
  ) {}

  tick(n = 1, note = ''): void {
    this.done += n;
    if (!this.enabled) return;
    const now = performance.now();
    const finished = this.done >= this.total;
    const interval = this.stream.isTTY ? 100 : 5000;
    if (!finished && now - this.lastDraw < interval) return;
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
