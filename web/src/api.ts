/** The page's client of the `clap serve` API: the same endpoints programs call (see /openapi.json). */
import type { ClassifyJson, JobView, LibraryJson, PeaksView, SearchHitJson, StatsJson } from '../../src/server/schemas.js';

export type { ClassifyJson, JobView, LibraryJson, PeaksView, SearchHitJson, StatsJson };

/** The server puts its token in the page; requests that change the library send it. */
const token = document.querySelector<HTMLMetaElement>('meta[name="clap-token"]')?.content ?? '';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (init.method && init.method !== 'GET' && token) headers.set('x-clap-token', token);
  const r = await fetch(path, { ...init, headers, credentials: 'same-origin' });
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`;
    try {
      message = ((await r.json()) as { error?: string }).error ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(r.status, message);
  }
  return (await r.json()) as T;
}

export interface SearchParams {
  q?: string;
  like?: string;
  top?: number;
  glob?: string;
  minDuration?: number;
  maxDuration?: number;
}

/** The query string of a search (also the page's own address for it, so results can be shared). */
export function searchQueryString(p: SearchParams): string {
  const u = new URLSearchParams();
  if (p.q) u.set('q', p.q);
  if (p.like) u.set('like', p.like);
  if (p.top) u.set('top', String(p.top));
  if (p.glob) u.set('glob', p.glob);
  if (p.minDuration !== undefined) u.set('min-duration', String(p.minDuration));
  if (p.maxDuration !== undefined) u.set('max-duration', String(p.maxDuration));
  return u.toString();
}

export const api = {
  search: (p: SearchParams, signal?: AbortSignal) => call<SearchHitJson[]>(`/api/search?${searchQueryString(p)}`, { signal }),
  stats: () => call<StatsJson>('/api/stats'),
  library: () => call<LibraryJson>('/api/library'),
  jobs: () => call<JobView[]>('/api/library/jobs'),
  peaks: (path: string, n = 160) => call<PeaksView>(`/api/peaks?path=${encodeURIComponent(path)}&n=${n}`),
  add: (path: string) =>
    call<JobView>('/api/library/add', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path }) }),
  remove: (path: string) =>
    call<JobView>('/api/library/remove', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ path }),
    }),
  sync: () => call<JobView>('/api/library/sync', { method: 'POST' }),
  classify: (file: File, labels: string[], multiLabel: boolean) =>
    call<ClassifyJson>('/api/classify', {
      method: 'POST',
      body: upload(file, { labels: labels.join(','), 'multi-label': String(multiLabel) }),
    }),
  caption: (file: File) => call<{ caption: string }>('/api/caption', { method: 'POST', body: upload(file) }),
  similar: (file: File, top: number) => call<SearchHitJson[]>('/api/similar', { method: 'POST', body: upload(file, { top: String(top) }) }),
};

function upload(file: File, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  form.append('file', file, file.name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}

/** The address that plays a library file: as it is (seekable) when the browser plays it, else a decoded WAV window. */
export function audioUrl(path: string, window?: { start: number; end: number }, streamable = true): string {
  const base = `/api/audio?path=${encodeURIComponent(path)}`;
  if (!window) return base;
  return streamable ? `${base}#t=${window.start},${window.end}` : `${base}&start=${window.start}&end=${window.end}`;
}
