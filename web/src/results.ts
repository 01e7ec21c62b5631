/**
 * A ranked list of library files (search hits, or files like a dropped one): score, name, folder,
 * duration, window, a waveform thumbnail, play, "more like this" and "copy path". Keyboard-first: the
 * owner forwards keys to `key()` (↑/↓ move, space plays, enter opens the details, m / c act on the selection).
 */
import { api, type PeaksView, type SearchHitJson } from './api.js';
import { fill, h, toast } from './dom.js';
import { clock, splitPath } from './format.js';
import { isPlaying, keyOf, onPlayer, type Playable, toggle } from './player.js';
import { drawWave } from './waveform.js';

interface Row {
  hit: SearchHitJson;
  /** The hit's window, shown once the file is known to be longer than it. */
  windowEl: HTMLElement | null;
  li: HTMLLIElement;
  canvas: HTMLCanvasElement;
  play: HTMLButtonElement;
  duration: HTMLElement;
  details: HTMLElement;
  peaks?: PeaksView;
  position?: number;
}

export interface ResultListOptions {
  /** "More like this" on a row. */
  onLike(path: string): void;
}

async function copyText(text: string): Promise<void> {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Not a secure context (a LAN address): the old way.
    const area = h('textarea', { value: text, class: 'offscreen' });
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  toast('Path copied');
}

export class ResultList {
  readonly el = h('ol', { class: 'results', 'aria-label': 'Results' });
  private rows: Row[] = [];
  private selected = -1;
  private readonly observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting) continue;
      this.observer.unobserve(e.target);
      const row = this.rows.find((r) => r.li === e.target);
      if (row) void this.loadPeaks(row);
    }
  });

  constructor(private readonly options: ResultListOptions) {
    onPlayer(({ key, position }) => {
      for (const row of this.rows) {
        const mine = key === keyOf(this.playable(row));
        row.position = mine ? position : undefined;
        row.play.textContent = mine && isPlaying(this.playable(row)) ? '❚❚' : '▶';
        row.play.setAttribute('aria-label', row.play.textContent === '▶' ? 'Play' : 'Pause');
        row.li.classList.toggle('playing', mine && isPlaying(this.playable(row)));
        this.draw(row);
      }
    });
    addEventListener('resize', () => {
      for (const row of this.rows) this.draw(row);
    });
  }

  get length(): number {
    return this.rows.length;
  }

  show(hits: SearchHitJson[]): void {
    this.observer.disconnect();
    this.rows = hits.map((hit, i) => this.row(hit, i));
    this.selected = -1;
    this.el.replaceChildren(...this.rows.map((r) => r.li));
    for (const r of this.rows) this.observer.observe(r.li);
  }

  private playable(row: Row): Playable {
    const { path, start, end } = row.hit;
    return { path, window: start !== undefined && end !== undefined ? { start, end } : undefined, streamable: row.peaks?.streamable };
  }

  private row(hit: SearchHitJson, i: number): Row {
    const { folder, name } = splitPath(hit.path);
    const windowEl =
      hit.start !== undefined ? h('span', { class: 'window', hidden: true }, `${clock(hit.start)}–${clock(hit.end ?? hit.start)}`) : null;
    const canvas = h('canvas', { class: 'wave', 'aria-hidden': 'true' });
    const play = h('button', { class: 'play', 'aria-label': 'Play', title: 'Play (space)' }, '▶');
    const duration = h('span', { class: 'duration' });
    const details = h('div', { class: 'details', hidden: true });
    const score = h('span', { class: 'score-bar' });
    score.style.setProperty('--s', String(Math.max(0, Math.min(1, hit.score))));
    const li = h(
      'li',
      { class: 'hit', dataset: { path: hit.path } },
      h('span', { class: 'rank' }, i + 1),
      play,
      canvas,
      h('div', { class: 'meta' }, h('div', { class: 'name', title: hit.path }, name), h('div', { class: 'folder' }, folder)),
      h('div', { class: 'times' }, windowEl, duration),
      h('div', { class: 'score', title: 'cosine similarity' }, score, hit.score.toFixed(3)),
      h(
        'div',
        { class: 'actions' },
        h('button', { class: 'like', title: 'More like this (m)', onclick: () => this.options.onLike(hit.path) }, 'More like this'),
        h('button', { class: 'copy', title: 'Copy path (c)', onclick: () => void copyText(hit.path) }, 'Copy path'),
      ),
      details,
    );
    const row: Row = { hit, windowEl, li, canvas, play, duration, details };
    play.addEventListener('click', (e) => {
      e.stopPropagation();
      this.select(this.rows.indexOf(row));
      void this.play(row);
    });
    li.addEventListener('click', () => this.select(this.rows.indexOf(row)));
    canvas.addEventListener('click', () => void this.play(row));
    return row;
  }

  private async play(row: Row): Promise<void> {
    if (!row.peaks) await this.loadPeaks(row);
    try {
      await toggle(this.playable(row));
    } catch (e) {
      if ((e as Error).name !== 'AbortError') toast(`Cannot play ${splitPath(row.hit.path).name}: ${(e as Error).message}`);
    }
  }

  private async loadPeaks(row: Row): Promise<void> {
    if (row.peaks) return;
    try {
      row.peaks = await api.peaks(row.hit.path);
      row.duration.textContent = clock(row.peaks.duration);
      if (row.windowEl) row.windowEl.hidden = !this.windowOf(row);
      this.draw(row);
    } catch (e) {
      row.duration.textContent = '—';
      row.li.title = (e as Error).message;
    }
  }

  /** The hit's window when it is part of the file (a window holding the whole of a short file is no news). */
  private windowOf(row: Row): { start: number; end: number } | undefined {
    const { start, end } = row.hit;
    if (start === undefined || end === undefined || !row.peaks) return undefined;
    return start < 0.05 && end > row.peaks.duration - 0.05 ? undefined : { start, end };
  }

  private draw(row: Row): void {
    if (!row.peaks) return;
    drawWave(row.canvas, { peaks: row.peaks.peaks, duration: row.peaks.duration, window: this.windowOf(row), position: row.position });
  }

  select(i: number): void {
    if (this.rows.length === 0) return;
    this.selected = Math.max(0, Math.min(this.rows.length - 1, i));
    this.rows.forEach((r, j) => {
      r.li.classList.toggle('selected', j === this.selected);
      r.li.setAttribute('aria-selected', String(j === this.selected));
    });
    this.rows[this.selected].li.scrollIntoView({ block: 'nearest' });
  }

  get selection(): number {
    return this.selected;
  }

  private toggleDetails(row: Row): void {
    const open = row.details.hidden;
    row.details.hidden = !open;
    row.li.classList.toggle('open', open);
    if (!open) return;
    const p = row.peaks;
    fill(
      row.details,
      h('code', { class: 'path' }, row.hit.path),
      p ? h('span', null, `${p.format ?? 'audio'} · ${p.sampleRate} Hz · ${p.channels} ch · ${clock(p.duration)}`) : null,
      h('a', { href: `/api/audio?path=${encodeURIComponent(row.hit.path)}`, target: '_blank', rel: 'noopener' }, 'Open the audio file'),
    );
  }

  /** Handles a key for the list; true when it did something. */
  key(e: KeyboardEvent): boolean {
    const row = this.rows[this.selected];
    switch (e.key) {
      case 'ArrowDown':
        this.select(this.selected + 1);
        return true;
      case 'ArrowUp':
        if (this.selected <= 0) return false;
        this.select(this.selected - 1);
        return true;
      case ' ':
        if (row) void this.play(row);
        return !!row;
      case 'Enter':
        if (row) this.toggleDetails(row);
        return !!row;
      case 'm':
        if (row) this.options.onLike(row.hit.path);
        return !!row;
      case 'c':
        if (row) void copyText(row.hit.path);
        return !!row;
      default:
        return false;
    }
  }
}
