/** Median wall time (seconds) of `fn` over `runs` runs after `warmup` runs. */
export async function timeIt(fn: () => Promise<unknown> | unknown, runs = 5, warmup = 1): Promise<number> {
  return (await timeCpu(fn, runs, warmup)).wall;
}

/** CPU seconds of this process (all threads) so far. */
export function cpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

/**
 * Median wall and median CPU seconds (this process, all threads) of `fn` over `runs` runs after `warmup`.
 * CPU seconds hardly change when other processes share the machine; wall seconds do.
 */
export async function timeCpu(fn: () => Promise<unknown> | unknown, runs = 5, warmup = 1): Promise<{ wall: number; cpu: number }> {
  for (let i = 0; i < warmup; i++) await fn();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = cpuSeconds();
    const t0 = performance.now();
    await fn();
    walls.push((performance.now() - t0) / 1000);
    cpus.push(cpuSeconds() - c0);
  }
  const median = (x: number[]): number => x.sort((a, b) => a - b)[Math.floor(x.length / 2)];
  return { wall: median(walls), cpu: median(cpus) };
}

/** Wall and CPU seconds (this process, all threads) of one call, and its value. */
export async function timeOnce<T>(fn: () => Promise<T> | T): Promise<{ wall: number; cpu: number; value: T }> {
  const c0 = cpuSeconds();
  const t0 = performance.now();
  const value = await fn();
  return { wall: (performance.now() - t0) / 1000, cpu: cpuSeconds() - c0, value };
}

export function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toPrecision(digits) : String(x);
}

/** Cosine similarity of two vectors. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}
