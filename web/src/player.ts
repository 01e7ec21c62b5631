/**
 * One audio element for the whole page: playing a result stops the one before. A hit with a window
 * plays that window (a media fragment on files the browser plays as they are, a decoded WAV window
 * on others); listeners follow the position to draw the playhead.
 */
import { audioUrl } from './api.js';

export interface Playable {
  path: string;
  window?: { start: number; end: number };
  /** Whether the file streams as it is (from its peaks); unknown = assume so. */
  streamable?: boolean;
}

type Listener = (p: { key: string | null; position?: number; playing: boolean }) => void;

const audio = Object.assign(document.createElement('audio'), { id: 'player', preload: 'none' });
document.body.append(audio);
const listeners = new Set<Listener>();
let current: { key: string; offset: number; end?: number } | null = null;

export const keyOf = (p: Playable): string => `${p.path}|${p.window?.start ?? ''}`;

function notify(): void {
  const position = current ? current.offset + audio.currentTime : undefined;
  for (const l of listeners) l({ key: current?.key ?? null, position, playing: !!current && !audio.paused });
}

audio.addEventListener('timeupdate', () => {
  // A media fragment's end stops playback by itself; this covers seeking past it and decoded windows.
  if (current?.end !== undefined && audio.currentTime >= current.end) audio.pause();
  notify();
});
for (const e of ['play', 'pause', 'ended', 'emptied']) audio.addEventListener(e, notify);

export function onPlayer(l: Listener): () => void {
  listeners.add(l);
  return () => listeners.delete(l);
}

export function isPlaying(p: Playable): boolean {
  return current?.key === keyOf(p) && !audio.paused;
}

/** Plays `p` (its window when it has one), or pauses it when it is the one playing. */
export async function toggle(p: Playable): Promise<void> {
  const key = keyOf(p);
  if (current?.key === key) {
    if (audio.paused) await audio.play();
    else audio.pause();
    return;
  }
  const streamable = p.streamable !== false;
  audio.src = audioUrl(p.path, p.window, streamable);
  // A decoded window starts at 0: positions are offset to stay in file time.
  current = { key, offset: p.window && !streamable ? p.window.start : 0, end: p.window && streamable ? p.window.end : undefined };
  await audio.play();
}

export function stop(): void {
  audio.pause();
  current = null;
  notify();
}
