/**
 * The demo page (dist/web/demo/): load an export, drop audio files, edit labels, search the files by text —
 * all computed in the page by clap-ts/web. `?model=URL` loads an export at start. The loaded model and the
 * clips are on `globalThis.clapDemo` for the console.
 */
import { Clap, type LoadProgress, type WebAudioEmbedding } from '../../src/web/index.js';
import { fill, h, onFileDrop } from '../src/dom.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

interface DemoState {
  clap: Clap | null;
  clips: WebAudioEmbedding[];
}

const state: DemoState = { clap: null, clips: [] };
(globalThis as { clapDemo?: DemoState }).clapDemo = state;

/** Shows `text` in a status line (red when it is an error). */
function say(id: string, text: string, error = false): void {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', error);
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));
const mb = (bytes: number): string => (bytes / 1e6).toFixed(1);

function showProgress(p: LoadProgress): void {
  const bar = $<HTMLProgressElement>('model-progress');
  bar.hidden = false;
  bar.value = p.total > 0 ? p.loaded / p.total : 0;
  const from = p.source === 'cache' ? 'from the cache' : p.source === 'file' ? 'from the file' : 'downloading';
  say('model-status', `${p.file}: ${mb(p.loaded)} / ${mb(p.total)} MB ${from}`);
}

async function loadModel(model: string | File[]): Promise<void> {
  say('model-status', 'Loading…');
  try {
    await state.clap?.release();
    state.clap = null;
    const clap = await Clap.load({ model, onProgress: showProgress });
    state.clap = clap;
    const m = clap.manifest;
    say('model-status', `Loaded ${m.family} (${m.embedding_dim}-d embeddings, onnxruntime-web ${clap.backend}).`);
    document.body.dataset.model = 'loaded';
    if (state.clips.length > 0) await refresh();
  } catch (e) {
    say('model-status', messageOf(e), true);
  } finally {
    $<HTMLProgressElement>('model-progress').hidden = true;
  }
}

/** The labels as typed: one per line, blank lines and repeats left out. */
function labels(): string[] {
  const lines = $<HTMLTextAreaElement>('labels')
    .value.split('\n')
    .map((l) => l.trim());
  return [...new Set(lines.filter((l) => l !== ''))];
}

async function addAudio(files: File[]): Promise<void> {
  const clap = state.clap;
  if (!clap) return say('audio-status', 'Load a model first.', true);
  const failed: string[] = [];
  for (const [i, file] of files.entries()) {
    say('audio-status', `Embedding ${file.name} (${i + 1} of ${files.length})…`);
    try {
      state.clips.push(...(await clap.embedAudio([file])));
    } catch (e) {
      failed.push(messageOf(e));
    }
  }
  say('audio-status', [`${state.clips.length} file(s) embedded.`, ...failed].join(' '), failed.length > 0);
  await refresh();
}

/** One label's bar: name, share of the width, probability. */
function bar(label: string, p: number): HTMLElement {
  const percent = `${(p * 100).toFixed(1)}%`;
  const filled = h('span', { class: 'fill' });
  filled.style.width = percent; // a property, not a style attribute: the page's CSP allows only its own styles
  return h('div', { class: 'bar' }, h('span', null, label), h('span', null, filled), h('span', { class: 'num' }, percent));
}

async function showResults(): Promise<void> {
  const body = $('results').querySelector('tbody')!;
  const clap = state.clap;
  if (!clap || state.clips.length === 0) return fill(body);
  const results = await clap.classifyEmbeddings(state.clips, labels());
  const byScore = (scores: Record<string, number>) => Object.entries(scores).sort((a, b) => b[1] - a[1]);
  fill(
    body,
    ...results.map((r) =>
      h(
        'tr',
        { dataset: { input: r.input, scores: JSON.stringify(r.scores) } },
        h('td', { class: 'name' }, r.input),
        h('td', null, ...byScore(r.scores).map(([l, p]) => bar(l, p))),
      ),
    ),
  );
}

async function search(): Promise<void> {
  const list = $('search-results');
  const query = $<HTMLInputElement>('query').value.trim();
  const clap = state.clap;
  if (!clap || query === '' || state.clips.length === 0) return fill(list);
  const [text] = await clap.embedText([query]);
  const sim = clap.similarity(
    state.clips.map((c) => c.embedding),
    [text],
  );
  const scored = state.clips.map((c, i) => ({ input: c.input, score: sim[i][0] })).sort((a, b) => b.score - a.score);
  fill(
    list,
    ...scored.map((s) =>
      h('li', { dataset: { input: s.input, score: String(s.score) } }, s.input, h('span', { class: 'num' }, s.score.toFixed(2))),
    ),
  );
}

/** Recomputes what is shown; the page says when it is done (data-busy) for whoever waits on it. */
async function refresh(): Promise<void> {
  document.body.dataset.busy = 'true';
  try {
    await Promise.all([showResults(), search()]);
  } catch (e) {
    say('audio-status', messageOf(e), true);
  } finally {
    delete document.body.dataset.busy;
  }
}

/** `fn` once input has paused for `ms`. */
function debounced(fn: () => void, ms: number): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

function wire(): void {
  $('model-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $<HTMLInputElement>('model-url').value.trim();
    if (url) void loadModel(url);
  });
  const modelFiles = $<HTMLInputElement>('model-files');
  modelFiles.addEventListener('change', () => void loadModel(Array.from(modelFiles.files ?? [])));
  const audioFiles = $<HTMLInputElement>('audio-files');
  audioFiles.addEventListener('change', () => void addAudio(Array.from(audioFiles.files ?? [])).then(() => (audioFiles.value = '')));
  $('labels').addEventListener(
    'input',
    debounced(() => void refresh(), 300),
  );
  $('query').addEventListener(
    'input',
    debounced(() => void refresh(), 300),
  );
  onFileDrop($('drop'), (files) => void addAudio(Array.from(files ?? [])));
}

wire();
const initial = new URLSearchParams(location.search).get('model');
if (initial) {
  $<HTMLInputElement>('model-url').value = initial;
  void loadModel(initial);
}
