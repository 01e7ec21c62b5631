/**
 * Search: a description (or a library file, for "more like this") → ranked files, live as you type.
 * The query and filters live in the address, so a search can be shared or bookmarked.
 */
import { api, type SearchParams, searchQueryString } from './api.js';
import { h } from './dom.js';
import { plural, splitPath } from './format.js';
import { stop } from './player.js';
import { ResultList } from './results.js';
import { typing, type View } from './view.js';

const EXAMPLES = ['a door creaking in an empty hall', 'rain on a window', 'a dog barking far away', 'footsteps on gravel'];
const DEBOUNCE_MS = 200;

function numberOrUndefined(v: string | null): number | undefined {
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

interface SearchControls {
  q: HTMLInputElement;
  glob: HTMLInputElement;
  min: HTMLInputElement;
  max: HTMLInputElement;
  top: HTMLSelectElement;
}

/** The query box and filters, filled from the page address. */
function searchControls(params: URLSearchParams): SearchControls {
  const q = h('input', {
    id: 'q',
    type: 'search',
    placeholder: 'Describe a sound — “a door creaking in an empty hall”',
    autocomplete: 'off',
    spellcheck: false,
    'aria-label': 'Describe a sound',
    value: params.get('q') ?? '',
  });
  const glob = h('input', {
    id: 'glob',
    placeholder: 'drums/** or *.wav',
    value: params.get('glob') ?? '',
    'aria-label': 'Folder or glob',
  });
  const seconds = (id: string, param: string, placeholder: string, label: string): HTMLInputElement =>
    h('input', { id, type: 'number', min: '0', step: 'any', placeholder, value: params.get(param) ?? '', 'aria-label': label });
  const min = seconds('min', 'min-duration', 'min s', 'Shortest, seconds');
  const max = seconds('max', 'max-duration', 'max s', 'Longest, seconds');
  const top = h(
    'select',
    { id: 'top', 'aria-label': 'Results' },
    ...[10, 25, 50, 100].map((n) => h('option', { value: String(n), selected: String(n) === (params.get('top') ?? '25') }, n)),
  );
  return { q, glob, min, max, top };
}

/** The search the controls describe: a text query, or "sounds like" a library file when `like` is set. */
function searchParams(c: SearchControls, like: string | undefined): SearchParams {
  return {
    q: like ? undefined : c.q.value.trim() || undefined,
    like,
    top: Number(c.top.value),
    glob: c.glob.value.trim() || undefined,
    minDuration: numberOrUndefined(c.min.value),
    maxDuration: numberOrUndefined(c.max.value),
  };
}

/** "Try …": example descriptions that run when clicked. */
function examplesRow(pick: (text: string) => void): HTMLElement {
  return h(
    'div',
    { class: 'examples' },
    'Try ',
    ...EXAMPLES.flatMap((text, i) => [i ? ', ' : '', h('button', { class: 'example', onclick: () => pick(text) }, text)]),
  );
}

/** The keyboard shortcuts, under the results. */
function keyHint(): HTMLElement {
  return h(
    'p',
    { class: 'hint' },
    h('kbd', null, '↑'),
    h('kbd', null, '↓'),
    ' move · ',
    h('kbd', null, 'space'),
    ' play · ',
    h('kbd', null, 'enter'),
    ' details · ',
    h('kbd', null, 'm'),
    ' more like this · ',
    h('kbd', null, 'c'),
    ' copy path · ',
    h('kbd', null, '/'),
    ' search',
  );
}

/** The page's shortcuts: ↓ from the query box into the results, / back to it, Escape stops playback, the rest to the list. */
function searchKeys(q: HTMLInputElement, results: ResultList): (e: KeyboardEvent) => void {
  return (e) => {
    if (e.target === q) {
      if (e.key === 'ArrowDown' && results.length) {
        e.preventDefault();
        q.blur();
        results.select(0);
      }
      return;
    }
    if (typing(e) || e.metaKey || e.ctrlKey || e.altKey) return;
    if (e.key === '/') {
      e.preventDefault();
      q.focus();
      q.select();
    } else if (e.key === 'Escape') stop();
    else if (results.key(e)) e.preventDefault();
    else if (e.key === 'ArrowUp') {
      e.preventDefault();
      q.focus();
    }
  };
}

export function searchView(): View {
  const params = new URLSearchParams(location.search);
  const controls = searchControls(params);
  const { q, glob, min, max, top } = controls;
  let like = params.get('like') ?? undefined;
  const likeChip = h('div', { class: 'like-chip', hidden: true });
  const status = h('p', { class: 'status', 'aria-live': 'polite' });
  const results = new ResultList({ onLike: (path) => searchLike(path) });
  const examples = examplesRow((text) => {
    q.value = text;
    run();
  });

  let controller: AbortController | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function showLike(): void {
    likeChip.hidden = !like;
    if (!like) return;
    likeChip.replaceChildren(
      'Sounds like ',
      h('b', { title: like }, splitPath(like).name),
      h(
        'button',
        {
          class: 'clear',
          'aria-label': 'Back to text search',
          onclick: () => {
            like = undefined;
            showLike();
            run();
            q.focus();
          },
        },
        '×',
      ),
    );
  }

  async function run(): Promise<void> {
    clearTimeout(timer);
    const p = searchParams(controls, like);
    const query = searchQueryString({ ...p, top: p.top === 25 ? undefined : p.top });
    history.replaceState(null, '', query ? `/?${query}` : '/');
    controller?.abort();
    if (!p.q && !p.like) {
      results.show([]);
      status.replaceChildren();
      examples.hidden = false;
      return;
    }
    examples.hidden = true;
    controller = new AbortController();
    const t0 = performance.now();
    status.textContent = 'Searching…';
    status.classList.remove('error');
    try {
      const hits = await api.search(p, controller.signal);
      const ms = Math.round(performance.now() - t0);
      results.show(hits);
      status.textContent = hits.length
        ? `${plural(hits.length, 'result')} · ${ms} ms`
        : 'No matches (try other words, or loosen the filters)';
    } catch (e) {
      if ((e as Error).name === 'AbortError') return;
      results.show([]);
      status.textContent = (e as Error).message;
      status.classList.add('error');
    }
  }

  function later(): void {
    clearTimeout(timer);
    timer = setTimeout(() => void run(), DEBOUNCE_MS);
  }

  function searchLike(path: string): void {
    like = path;
    showLike();
    void run();
    window.scrollTo({ top: 0 });
  }

  q.addEventListener('input', () => {
    if (like) {
      like = undefined;
      showLike();
    }
    later();
  });
  for (const el of [glob, min, max]) el.addEventListener('input', later);
  top.addEventListener('change', () => void run());

  const form = h(
    'form',
    {
      class: 'searchbar',
      role: 'search',
      onsubmit: (e: Event) => {
        e.preventDefault();
        void run();
      },
    },
    q,
  );
  const filters = h(
    'div',
    { class: 'filters' },
    h('label', null, 'Folder ', glob),
    h('label', null, 'Duration ', min, '–', max),
    h('label', null, 'Results ', top),
  );
  const el = h('section', { class: 'view search-view' }, form, filters, likeChip, examples, status, results.el, keyHint());
  const onKey = searchKeys(q, results);

  return {
    el,
    shown() {
      document.addEventListener('keydown', onKey);
      showLike();
      if (!like) q.focus();
      void run();
    },
    left() {
      document.removeEventListener('keydown', onKey);
      controller?.abort();
      clearTimeout(timer);
    },
  };
}
