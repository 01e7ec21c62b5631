/**
 * `clap train plot`: training curves from a run's log.jsonl as one dependency-free SVG — training loss
 * per step (raw and smoothed), learning rate (log scale), and the validation metrics per epoch.
 */
import { readFileSync } from 'node:fs';
import { ClapError } from '../../errors.js';

export interface LogEntry {
  type: string;
  step?: number;
  epoch?: number;
  loss?: number;
  lr?: number;
  train_loss?: number;
  val?: Record<string, number>;
  test?: Record<string, number>;
}

export function readLog(file: string): LogEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ClapError(`cannot read the training log (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: file });
  }
  const out: LogEntry[] = [];
  for (const l of text.split('\n')) {
    if (!l.trim()) continue;
    try {
      out.push(JSON.parse(l) as LogEntry);
    } catch {
      // a line cut by a kill: ignore
    }
  }
  return out;
}

interface Series {
  name: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function panel(
  x0: number,
  y0: number,
  w: number,
  h: number,
  title: string,
  xLabel: string,
  series: Series[],
  opts: { logY?: boolean; yMin?: number; yMax?: number } = {},
): string {
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!opts.logY || y > 0));
  const parts: string[] = [
    `<text x="${x0 + w / 2}" y="${y0 - 8}" text-anchor="middle" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  parts.push(`<rect x="${x0}" y="${y0}" width="${w}" height="${h}" fill="none" stroke="#888"/>`);
  if (pts.length === 0) return `${parts.join('')}<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" fill="#888">no data</text>`;
  const tf = (y: number): number => (opts.logY ? Math.log10(y) : y);
  const xs = pts.map((p) => p[0]);
  let xmin = Math.min(...xs);
  let xmax = Math.max(...xs);
  if (xmax === xmin) {
    xmin -= 1;
    xmax += 1;
  }
  let ymin = opts.yMin ?? Math.min(...pts.map((p) => tf(p[1])));
  let ymax = opts.yMax ?? Math.max(...pts.map((p) => tf(p[1])));
  if (ymax === ymin) {
    ymin -= 0.5;
    ymax += 0.5;
  }
  const X = (x: number): number => x0 + ((x - xmin) / (xmax - xmin)) * w;
  const Y = (y: number): number => y0 + h - ((tf(y) - ymin) / (ymax - ymin)) * h;
  for (const t of niceTicks(xmin, xmax))
    parts.push(
      `<line x1="${X(t)}" y1="${y0 + h}" x2="${X(t)}" y2="${y0 + h + 4}" stroke="#888"/>` +
        `<text x="${X(t)}" y="${y0 + h + 16}" text-anchor="middle" font-size="10">${t}</text>`,
    );
  for (const t of niceTicks(ymin, ymax)) {
    const label = opts.logY ? (10 ** t).toExponential(0) : String(t);
    const yy = y0 + h - ((t - ymin) / (ymax - ymin)) * h;
    parts.push(
      `<line x1="${x0}" y1="${yy}" x2="${x0 + w}" y2="${yy}" stroke="#eee"/>` +
        `<text x="${x0 - 4}" y="${yy + 3}" text-anchor="end" font-size="10">${label}</text>`,
    );
  }
  parts.push(`<text x="${x0 + w / 2}" y="${y0 + h + 32}" text-anchor="middle" font-size="11">${esc(xLabel)}</text>`);
  series.forEach((s, i) => {
    const p = s.points.filter(([, y]) => Number.isFinite(y) && (!opts.logY || y > 0));
    if (p.length === 0) return;
    const d = p.map(([x, y], k) => `${k ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="4 3"' : ''}/>`);
    if (p.length <= 60)
      for (const [x, y] of p) parts.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="2" fill="${s.color}"/>`);
    parts.push(`<text x="${x0 + w - 6}" y="${y0 + 14 + 13 * i}" text-anchor="end" font-size="11" fill="${s.color}">${esc(s.name)}</text>`);
  });
  return parts.join('');
}

/** Exponential moving average. */
function smooth(points: [number, number][], alpha: number): [number, number][] {
  let m: number | undefined;
  return points.map(([x, y]) => {
    m = m === undefined ? y : alpha * m + (1 - alpha) * y;
    return [x, m];
  });
}

/** The SVG for a run's log entries. */
export function renderSvg(entries: LogEntry[], title = 'clap train'): string {
  // a resumed run re-logs steps after its checkpoint: keep the last entry per step / epoch
  const steps = new Map<number, LogEntry>();
  const epochs = new Map<number, LogEntry>();
  for (const e of entries) {
    if (e.type === 'step' && e.step !== undefined) steps.set(e.step, e);
    if (e.type === 'epoch' && e.epoch !== undefined) epochs.set(e.epoch, e);
  }
  const st = [...steps.values()].sort((a, b) => a.step! - b.step!);
  const ep = [...epochs.values()].sort((a, b) => a.epoch! - b.epoch!);
  const loss: [number, number][] = st.map((e) => [e.step!, e.loss!]);
  const W = 900;
  const ph = 220;
  const pw = 760;
  const x0 = 90;
  let y = 50;
  const body: string[] = [];
  body.push(
    panel(x0, y, pw, ph, 'training loss', 'step', [
      { name: 'loss', color: '#9ecae1', points: loss },
      { name: 'smoothed', color: '#08519c', points: smooth(loss, Math.min(0.98, 1 - 4 / Math.max(8, loss.length / 4))) },
      { name: 'epoch mean', color: '#e6550d', points: ep.map((e) => [e.step!, e.train_loss!]) },
    ]),
  );
  y += ph + 70;
  body.push(
    panel(x0, y, pw, ph * 0.6, 'learning rate', 'step', [{ name: 'lr', color: '#31a354', points: st.map((e) => [e.step!, e.lr!]) }], {
      logY: true,
    }),
  );
  y += ph * 0.6 + 70;
  for (const split of ['val', 'test'] as const) {
    const v = (k: string): [number, number][] =>
      ep.filter((e) => e[split] && e[split]![k] !== undefined).map((e) => [e.epoch!, e[split]![k]]);
    if (split === 'test' && !ep.some((e) => e.test)) continue;
    body.push(
      panel(
        x0,
        y,
        pw,
        ph,
        split === 'val' ? 'validation' : 'test (never used to pick the epoch)',
        'epoch',
        [
          { name: 'zero-shot accuracy', color: '#e6550d', points: v('zero_shot_acc') },
          { name: 'zero-shot chance', color: '#e6550d', points: v('zero_shot_chance'), dashed: true },
          { name: 'R@10 audio→text', color: '#756bb1', points: v('a2t_r10') },
          { name: 'R@10 a→t random', color: '#756bb1', points: v('a2t_r10_random'), dashed: true },
          { name: 'R@10 text→audio', color: '#31a354', points: v('t2a_r10') },
          { name: 'R@10 t→a random', color: '#31a354', points: v('t2a_r10_random'), dashed: true },
          { name: 'R@1 audio→text', color: '#636363', points: v('a2t_r1') },
        ],
        { yMin: 0, yMax: 1 },
      ),
    );
    y += ph + 70;
  }
  y -= 10;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif">` +
    '<rect width="100%" height="100%" fill="white"/>' +
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="16">${esc(title)}</text>${body.join('')}</svg>\n`
  );
}
