/**
 * Library: what is indexed, and changing it — add a folder under an allowed root, sync, remove — with
 * live progress (files/s, ETA, failures with reasons) from the server's event stream.
 */
import { api, type JobView, type LibraryJson, type StatsJson } from './api.js';
import { h } from './dom.js';
import { bytes, eta, plural } from './format.js';
import type { View } from './view.js';

const KIND: Record<JobView['kind'], string> = { add: 'Adding', sync: 'Syncing', remove: 'Removing' };

function jobItem(job: JobView): HTMLLIElement {
  const progress = h('progress', { max: Math.max(job.total, 1), value: job.done });
  const rate = job.filesPerS !== null ? `${job.filesPerS.toFixed(1)} files/s` : '';
  const r = job.report;
  const summary =
    job.state === 'failed'
      ? job.error
      : r
        ? `${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.removed} removed, ${r.skipped} skipped — ` +
          `${plural(r.files, 'file')} indexed in ${r.seconds.toFixed(1)} s` +
          (job.state === 'stopped' ? ` (stopped: ${r.pending} left; sync goes on from here)` : '')
        : job.state === 'queued'
          ? 'waiting for the change before it'
          : `${job.done} / ${job.total} files${rate ? ` · ${rate}` : ''} · ETA ${eta(job.etaS)}`;
  return h(
    'li',
    { class: `job ${job.state}`, dataset: { id: String(job.id), state: job.state } },
    h(
      'div',
      { class: 'job-head' },
      h('b', null, KIND[job.kind]),
      ' ',
      h('code', null, job.path ?? 'every indexed folder'),
      h('span', { class: 'state' }, job.state),
    ),
    job.state === 'running' ? progress : null,
    h('p', { class: 'job-summary' }, summary),
    job.state === 'running' && job.current ? h('p', { class: 'current' }, job.current) : null,
    job.failureCount
      ? h(
          'details',
          { class: 'failures' },
          h('summary', null, `${plural(job.failureCount, 'file')} could not be indexed`),
          h('ul', null, ...job.failures.map((f) => h('li', null, h('code', null, f.path), ': ', f.reason))),
        )
      : null,
  );
}

export function libraryView(onChange: () => void): View {
  const stats = h('dl', { class: 'stats' });
  const roots = h('ul', { class: 'roots' });
  const allowed = h('p', { class: 'hint' });
  const jobs = h('ol', { class: 'jobs', 'aria-live': 'polite' });
  const message = h('p', { class: 'error', 'aria-live': 'polite' });
  const path = h('input', {
    id: 'add-path',
    placeholder: '/path/to/a/folder',
    list: 'allowed-roots',
    'aria-label': 'Folder to add',
    spellcheck: false,
  });
  const datalist = h('datalist', { id: 'allowed-roots' });
  const byId = new Map<number, JobView>();
  let events: EventSource | undefined;

  const act = async (what: () => Promise<unknown>): Promise<void> => {
    message.textContent = '';
    try {
      await what();
    } catch (e) {
      message.textContent = (e as Error).message;
    }
  };

  function renderJobs(): void {
    jobs.replaceChildren(...[...byId.values()].sort((a, b) => b.id - a.id).map(jobItem));
  }

  async function refresh(): Promise<void> {
    let s: StatsJson;
    let lib: LibraryJson;
    try {
      [s, lib] = await Promise.all([api.stats(), api.library()]);
    } catch (e) {
      message.textContent = (e as Error).message;
      return;
    }
    const model = s.model as { id?: string; dim?: number; audio?: { sliding?: { hopS: number } | false } };
    const item = (term: string, value: string): HTMLElement => h('div', { class: 'stat' }, h('dt', null, term), h('dd', null, value));
    stats.replaceChildren(
      item('Files', String(s.files)),
      item('Windows', model.audio?.sliding ? `${s.windows} (hop ${model.audio.sliding.hopS} s)` : 'per file'),
      item('Model', `${model.id?.slice(0, 12) ?? '?'} · ${model.dim ?? '?'}-d`),
      item('On disk', bytes(s.bytes)),
      item('Vector index', lib.vectorIndex ?? 'exact search'),
      item('Captions', lib.captioning ? 'on' : 'off'),
    );
    roots.replaceChildren(
      ...(lib.roots.length
        ? lib.roots.map((r) =>
            h('li', null, h('code', null, r), h('button', { class: 'remove', onclick: () => act(() => api.remove(r)) }, 'Remove')),
          )
        : [h('li', { class: 'empty' }, 'Nothing indexed yet.')]),
    );
    datalist.replaceChildren(...lib.allow.map((a) => h('option', { value: a })));
    allowed.textContent = lib.allow.length
      ? `Folders can be added under ${lib.allow.join(', ')}.`
      : 'To add folders from here, start clap serve with --allow DIR (folders under DIR may then be added).';
  }

  const el = h(
    'section',
    { class: 'view library-view' },
    stats,
    h('h2', null, 'Folders'),
    roots,
    h(
      'form',
      {
        class: 'add',
        onsubmit: (e: Event) => {
          e.preventDefault();
          const p = path.value.trim();
          if (p) void act(() => api.add(p)).then(() => (path.value = ''));
        },
      },
      path,
      datalist,
      h('button', { type: 'submit' }, 'Add folder'),
      h('button', { type: 'button', class: 'secondary', onclick: () => act(() => api.sync()) }, 'Sync all'),
    ),
    allowed,
    message,
    h('h2', null, 'Activity'),
    jobs,
  );

  return {
    el,
    shown() {
      void refresh();
      events = new EventSource('/api/library/events');
      events.addEventListener('jobs', (e) => {
        byId.clear();
        for (const j of JSON.parse((e as MessageEvent).data) as JobView[]) byId.set(j.id, j);
        renderJobs();
      });
      events.addEventListener('job', (e) => {
        const job = JSON.parse((e as MessageEvent).data) as JobView;
        const before = byId.get(job.id)?.state;
        byId.set(job.id, job);
        renderJobs();
        if (job.state !== before && job.state !== 'queued' && job.state !== 'running') {
          void refresh();
          onChange();
        }
      });
    },
    left() {
      events?.close();
    },
  };
}
