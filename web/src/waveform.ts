/** Waveform thumbnails on a canvas: mirrored bars from a peaks summary, the matching window shaded, a playhead. */

export interface WaveState {
  peaks: number[];
  duration: number;
  /** The search hit's window, seconds. */
  window?: { start: number; end: number };
  /** Playback position, seconds (undefined when not playing). */
  position?: number;
}

function color(el: Element, name: string, fallback: string): string {
  return getComputedStyle(el).getPropertyValue(name).trim() || fallback;
}

export function drawWave(canvas: HTMLCanvasElement, s: WaveState): void {
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const hgt = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== hgt) {
    canvas.width = w;
    canvas.height = hgt;
  }
  const g = canvas.getContext('2d');
  if (!g) return;
  g.clearRect(0, 0, w, hgt);
  const x = (t: number): number => (s.duration > 0 ? (t / s.duration) * w : 0);
  if (s.window) {
    g.fillStyle = color(canvas, '--wave-window', 'rgba(80,140,255,0.18)');
    g.fillRect(x(s.window.start), 0, Math.max(1, x(s.window.end) - x(s.window.start)), hgt);
  }
  const n = s.peaks.length;
  const bar = w / Math.max(n, 1);
  const played = s.position === undefined ? -1 : x(s.position);
  const base = color(canvas, '--wave', '#7a8599');
  const done = color(canvas, '--wave-played', '#3b82f6');
  for (let i = 0; i < n; i++) {
    const amp = Math.max(s.peaks[i], 0.02) * (hgt / 2 - dpr);
    const left = i * bar;
    g.fillStyle = left < played ? done : base;
    g.fillRect(left + bar * 0.15, hgt / 2 - amp, Math.max(dpr * 0.75, bar * 0.7), amp * 2);
  }
  if (played >= 0) {
    g.fillStyle = done;
    g.fillRect(played, 0, dpr, hgt);
  }
}

/** Peaks of decoded audio (a dropped file decoded by the browser): loudest sample per stretch. */
export function peaksOfBuffer(buffer: AudioBuffer, n: number): number[] {
  const out = new Array<number>(n).fill(0);
  const stretch = buffer.length / n;
  for (let c = 0; c < buffer.numberOfChannels; c++) {
    const data = buffer.getChannelData(c);
    for (let i = 0; i < n; i++) {
      const end = Math.min(data.length, Math.floor((i + 1) * stretch));
      for (let j = Math.floor(i * stretch); j < end; j++) out[i] = Math.max(out[i], Math.abs(data[j]));
    }
  }
  return out.map((p) => Math.min(1, p));
}
