/**
 * The demo page (dist/web/demo/): load an export, drop audio files, edit labels, search the files by text —
 * all computed in the page by clap-ts/web. `?model=URL` loads an export at start. The loaded model and the
 * clips are on `globalThis.clapDemo` for the console.
 */
import { Clap, type LoadProgress, type WebAudioEmbedding } from '../../src/web/index.js';

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
  const row = document.createElement('div');
  row.className = 'bar';
  const name = Object.assign(document.createElement('span'), { textContent: label });
  const track = document.createElement('span');
  const fill = Object.assign(document.createElement('span'), { className: 'fill' });
  fill.style.width = `${(p * 100).toFixed(1)}%`;
  track.append(fill);
  const num = Object.assign(document.createElement('span'), { className: 'num', textContent: `${(p * 100).toFixed(1)}%` });
  row.append(name, track, num);
  return row;
}

async function showResults(): Promise<void> {
  const body = $('results').querySelector('tbody')!;
  const clap = state.clap;
  if (!clap || state.clips.length === 0) return body.replaceChildren();
  const results = await clap.classifyEmbeddings(state.clips, labels());
  body.replaceChildren(
    ...results.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.input = r.input;
      tr.dataset.scores = JSON.stringify(r.scores);
      const name = Object.assign(document.createElement('td'), { className: 'name', textContent: r.input });
      const bars = document.createElement('td');
      bars.append(
        ...Object.entries(r.scores)
          .sort((a, b) => b[1] - a[1])
          .map(([l, p]) => bar(l, p)),
      );
      tr.append(name, bars);
      return tr;
    }),
  );
}

async function search(): Promise<void> {
  const list = $('search-results');
  const query = $<HTMLInputElement>('query').value.trim();
  const clap = state.clap;
  if (!clap || query === '' || state.clips.length === 0) return list.replaceChildren();
  const [text] = await clap.embedText([query]);
  const scored = clap
    .similarity(
      state.clips.map((c) => c.embedding),
      [text],
    )
    .map((row, i) => ({ input: state.clips[i].input, score: row[0] }));
  scored.sort((a, b) => b.score - a.score);
  list.replaceChildren(
    ...scored.map((s) => {
      const li = Object.assign(document.createElement('li'), { textContent: s.input });
      li.dataset.input = s.input;
      li.dataset.score = String(s.score);
      li.append(Object.assign(document.createElement('span'), { className: 'num', textContent: s.score.toFixed(2) }));
      return li;
    }),
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

function wireDrop(): void {
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void addAudio(Array.from(e.dataTransfer?.files ?? []));
  });
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
  wireDrop();
}

wire();
const initial = new URLSearchParams(location.search).get('model');
if (initial) {
  $<HTMLInputElement>('model-url').value = initial;
  void loadModel(initial);
}
