/** The page of `clap serve`: three views (search, drop files, library) under one header, routed by address. */
import { api, type LibraryJson } from './api.js';
import { fill, h } from './dom.js';
import { plural } from './format.js';
import { dropView } from './drop-view.js';
import { libraryView } from './library-view.js';
import { stop } from './player.js';
import { searchView } from './search-view.js';
import type { View } from './view.js';

const main = document.getElementById('view')!;
const summary = document.getElementById('summary')!;
let library: Promise<LibraryJson> = api.library();
let current: View | undefined;

async function showSummary(): Promise<void> {
  try {
    const s = await api.stats();
    const dim = (s.model as { dim?: number }).dim;
    fill(summary, h('span', null, plural(s.files, 'file')), dim ? h('span', null, `${dim}-d`) : null);
  } catch (e) {
    fill(summary, h('span', { class: 'error' }, (e as Error).message));
  }
}

function viewFor(pathname: string): { name: string; make: () => View } {
  if (pathname === '/drop') return { name: 'drop', make: () => dropView(library) };
  if (pathname === '/library')
    return {
      name: 'library',
      make: () =>
        libraryView(() => {
          library = api.library();
          void showSummary();
        }),
    };
  return { name: 'search', make: () => searchView() };
}

function render(): void {
  current?.left?.();
  stop();
  const { name, make } = viewFor(location.pathname);
  current = make();
  for (const a of document.querySelectorAll<HTMLAnchorElement>('nav a')) a.classList.toggle('active', a.dataset.view === name);
  document.body.dataset.view = name;
  fill(main, current.el);
  current.shown?.();
}

document.addEventListener('click', (e) => {
  const a = (e.target as Element).closest<HTMLAnchorElement>('a[data-view]');
  if (!a || e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return;
  e.preventDefault();
  if (a.pathname !== location.pathname || location.search) history.pushState(null, '', a.pathname);
  render();
});
addEventListener('popstate', render);

render();
void showSummary();
