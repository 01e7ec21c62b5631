/**
 * Drop files: each dropped (or chosen) sound gets zero-shot labels for the label set the user edits
 * (a bar per label), a caption when the server has clapcap weights, and "find similar in the library".
 * The files go to the server one request each; nothing is stored there.
 */
import { api, type LibraryJson } from './api.js';
import { h, onFileDrop } from './dom.js';
import { bytes, clock } from './format.js';
import { ResultList } from './results.js';
import type { View } from './view.js';
import { drawWave, peaksOfBuffer } from './waveform.js';

const DEFAULT_LABELS = 'dog barking, rain, speech, music, car engine, footsteps, door, birds singing, wind, applause';
const STORAGE_KEY = 'clap-labels';

interface Card {
  file: File;
  el: HTMLElement;
  bars: HTMLElement;
  caption: HTMLElement;
  error: HTMLElement;
}

function labelsOf(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[,\n]/)
        .map((l) => l.trim())
        .filter((l) => l.length > 0),
    ),
  ];
}

/** One bar per label, the most likely first. */
function scoreBars(scores: Record<string, number>): HTMLElement[] {
  return Object.entries(scores)
    .sort((a, b) => b[1] - a[1])
    .map(([label, p]) => {
      const fill = h('i');
      fill.style.setProperty('--p', String(p));
      return h(
        'li',
        null,
        h('span', { class: 'label' }, label),
        h('span', { class: 'bar' }, fill),
        h('span', { class: 'p' }, p.toFixed(3)),
      );
    });
}

/** Scores a card's file against the labels and shows the bars (or the error). */
async function classifyCard(card: Card, labels: string[], multiLabel: boolean): Promise<void> {
  if (labels.length === 0) {
    card.error.textContent = 'Give at least one label.';
    return;
  }
  card.bars.classList.add('busy');
  try {
    const { scores } = await api.classify(card.file, labels, multiLabel);
    card.bars.replaceChildren(...scoreBars(scores));
    card.error.textContent = '';
  } catch (e) {
    card.bars.replaceChildren();
    card.error.textContent = (e as Error).message;
  } finally {
    card.bars.classList.remove('busy');
  }
}

/** A file's card: name, size, waveform, player, caption, label bars, errors and "find similar in the library". */
function fileCard(file: File, onRemove: (card: Card) => void): Card {
  const canvas = h('canvas', { class: 'wave big', 'aria-hidden': 'true' });
  const player = h('audio', { controls: true, preload: 'metadata', src: URL.createObjectURL(file) });
  const info = h('small', null, bytes(file.size));
  const bars = h('ol', { class: 'bars', 'aria-label': 'Labels' });
  const caption = h('p', { class: 'caption' });
  const error = h('p', { class: 'error', 'aria-live': 'polite' });
  const similar = new ResultList({ onLike: (path) => location.assign(`/?like=${encodeURIComponent(path)}`) });
  const card: Card = { file, el: h('article', { class: 'card' }), bars, caption, error };
  const findSimilar = h(
    'button',
    {
      class: 'similar',
      onclick: async () => {
        findSimilar.disabled = true;
        try {
          similar.show(await api.similar(file, 10));
        } catch (e) {
          error.textContent = (e as Error).message;
        } finally {
          findSimilar.disabled = false;
        }
      },
    },
    'Find similar in the library',
  );
  card.el.append(
    h(
      'header',
      null,
      h('b', { class: 'name' }, file.name),
      info,
      h(
        'button',
        {
          class: 'remove',
          'aria-label': `Remove ${file.name}`,
          onclick: () => {
            card.el.remove();
            onRemove(card);
            URL.revokeObjectURL(player.src);
          },
        },
        '×',
      ),
    ),
    canvas,
    player,
    caption,
    bars,
    error,
    findSimilar,
    similar.el,
  );
  // The waveform is drawn from the browser's own decoding; the labels come from the server.
  void file
    .arrayBuffer()
    .then((buf) => new AudioContext().decodeAudioData(buf))
    .then((audio) => {
      info.textContent = `${bytes(file.size)} · ${clock(audio.duration)}`;
      drawWave(canvas, { peaks: peaksOfBuffer(audio, 240), duration: audio.duration });
    })
    .catch(() => undefined);
  return card;
}

/** The drop target with its file input: `take` gets the files dropped, chosen, or picked after Enter / Space on it. */
function dropZone(take: (files: FileList | null) => void): HTMLElement {
  const input = h('input', { type: 'file', multiple: true, accept: 'audio/*', class: 'offscreen', id: 'files' });
  const zone = h(
    'div',
    { class: 'dropzone', tabindex: 0, role: 'button', 'aria-label': 'Drop audio files here or choose files' },
    h('strong', null, 'Drop audio files here'),
    h('span', null, ' or '),
    h('label', { class: 'button', for: 'files' }, 'choose files'),
    input,
    h('small', { class: 'limits' }),
  );
  input.addEventListener('change', () => {
    take(input.files);
    input.value = '';
  });
  onFileDrop(zone, take);
  zone.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      input.click();
    }
  });
  return zone;
}

/** The label set the user edits, the multi-label switch and "Apply labels". */
function labelsEditor(labels: HTMLTextAreaElement, multi: HTMLInputElement, relabel: () => void): HTMLElement {
  return h(
    'div',
    { class: 'labels-editor' },
    h('label', { for: 'labels' }, 'Labels ', h('small', null, '(comma-separated; edit and apply to re-score every file)')),
    labels,
    h(
      'div',
      { class: 'row' },
      h('label', null, multi, ' multi-label ', h('small', null, '(a probability per label instead of a softmax across them)')),
      h('button', { id: 'relabel', onclick: relabel }, 'Apply labels'),
    ),
  );
}

export function dropView(library: Promise<LibraryJson>): View {
  const labels = h('textarea', { id: 'labels', rows: 2, spellcheck: false, 'aria-label': 'Labels, comma-separated' });
  labels.value = localStorage.getItem(STORAGE_KEY) ?? DEFAULT_LABELS;
  const multi = h('input', { id: 'multi', type: 'checkbox' });
  const cards = h('div', { class: 'cards' });
  const all: Card[] = [];
  const classify = (card: Card): Promise<void> => classifyCard(card, labelsOf(labels.value), multi.checked);

  async function add(file: File): Promise<void> {
    const card = fileCard(file, (removed) => all.splice(all.indexOf(removed), 1));
    all.push(card);
    cards.prepend(card.el);
    const lib = await library;
    const jobs: Promise<void>[] = [classify(card)];
    if (lib.captioning) {
      card.caption.textContent = 'Captioning…';
      jobs.push(
        api.caption(file).then(
          (c) => void (card.caption.textContent = `“${c.caption.trim()}”`),
          (e: Error) => void (card.caption.textContent = `No caption: ${e.message}`),
        ),
      );
    }
    await Promise.all(jobs);
  }

  const zone = dropZone((files) => {
    for (const f of Array.from(files ?? [])) void add(f);
  });
  const relabel = (): void => {
    localStorage.setItem(STORAGE_KEY, labels.value);
    for (const c of all) void classify(c);
  };
  const el = h('section', { class: 'view drop-view' }, zone, labelsEditor(labels, multi, relabel), cards);
  multi.addEventListener('change', relabel);
  return {
    el,
    shown() {
      void library.then((lib) => {
        zone.querySelector('.limits')!.textContent =
          `WAV, FLAC, Ogg, Opus or MP3 · up to ${bytes(lib.limits.uploadBytes)} and ${clock(lib.limits.uploadSeconds, 0)} each` +
          (lib.captioning ? ' · captions on' : '');
      });
    },
  };
}
