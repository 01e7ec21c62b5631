import { DEFAULT_REFINE } from '../../store/lance.js';
import { INDEX_DEFAULTS, type IndexQuery, type IndexSearchOptions, type SearchMode } from '../../tasks/clap-index.js';
import { defineCommand, UsageError } from '../command.js';
import { INDEX_MODEL_OPTIONS, openWithModel } from './index-cmd.js';

function fmtTime(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}:${(s - m * 60).toFixed(1).padStart(4, '0')}` : `${s.toFixed(1)}s`;
}

export const search = defineCommand({
  path: ['search'],
  usage: 'search "TEXT" --db DIR',
  summary: 'Search an index by text or by example; rank captions',
  details: "By text, by example (--like FILE), or rank the index's captions for a sound (--audio FILE --captions).",
  options: {
    top: { kind: 'integer', arg: 'K', min: 1, default: INDEX_DEFAULTS.top, help: 'results' },
    like: { kind: 'path', arg: 'FILE', help: 'audio→audio: files that sound like FILE (FILE itself left out)' },
    audio: { kind: 'path', arg: 'FILE', help: "the query is a sound; with --captions, rank the index's captions for it" },
    captions: { kind: 'boolean', help: 'audio→text: rank the captions added with clap index captions' },
    glob: { kind: 'string', arg: 'G', help: "only paths matching G ('*.wav' matches names, 'drums/**' folders)" },
    'min-duration': { kind: 'number', arg: 'S', min: 0, atMost: 'max-duration', help: 'only files at least S seconds long' },
    'max-duration': { kind: 'number', arg: 'S', min: 0, help: 'only files at most S seconds long' },
    exact: { kind: 'boolean', help: 'scan every vector (ignore the ANN index)' },
    ann: { kind: 'boolean', help: 'require the ANN index (tuned by --nprobes and --refine)' },
    nprobes: {
      kind: 'integer',
      min: 1,
      help: 'ANN partitions searched',
      defaultText: 'chosen for the index size: 8% of its partitions, at least 20',
    },
    refine: {
      kind: 'integer',
      min: 1,
      default: DEFAULT_REFINE,
      field: 'refineFactor',
      help: 'ANN candidates re-ranked exactly, per result',
    },
    level: {
      kind: 'enum',
      choices: ['file', 'window'],
      help: "'window': the best window per file (sliding indexes); 'file': per-file vectors",
      defaultText: 'window on sliding indexes, else file',
    },
    ...INDEX_MODEL_OPTIONS,
  },
  json: '[{"path","score","start"?,"end"?}]; with --captions [{"text","score"}]',
  async run(ctx) {
    const v = ctx.values;
    const { like, audio, captions } = v;
    if (like !== undefined && audio !== undefined) throw new UsageError('give --like or --audio, not both');
    const audioQuery = like ?? audio;
    if (audioQuery !== undefined && ctx.positionals.length > 0)
      throw new UsageError('give a search text or an audio query (--like/--audio), not both');
    if (audioQuery === undefined && ctx.positionals.length !== 1) {
      throw new UsageError(
        ctx.positionals.length === 0 ? 'give a search text (quoted), or --like FILE' : 'give the search text as one quoted argument',
      );
    }
    if (captions && audio === undefined) throw new UsageError('--captions ranks captions for a sound: give --audio FILE');
    const top = v.top;
    if (v.exact && v.ann) throw new UsageError('give --exact or --ann, not both');
    const mode: SearchMode = v.exact ? 'exact' : v.ann ? 'ann' : 'auto';
    const options: IndexSearchOptions = {
      top,
      glob: v.glob,
      minDuration: v['min-duration'],
      maxDuration: v['max-duration'],
      mode,
      nprobes: v.nprobes,
      refineFactor: v.refine,
      level: v.level,
    };

    const { clap, index } = await openWithModel(ctx, false);
    try {
      if (captions) {
        const hits = await index.rankCaptions({ audio: audio! }, { top });
        if (ctx.json) ctx.stdout.write(`${JSON.stringify(hits.map((h) => ({ text: h.text, score: h.score })))}\n`);
        else for (const h of hits) ctx.stdout.write(`${h.score.toFixed(4)}  ${h.text}\n`);
        return;
      }
      const query: IndexQuery = audioQuery !== undefined ? { audio: audioQuery } : { text: ctx.positionals[0] };
      const hits = await index.search(query, options);
      if (ctx.json) {
        ctx.stdout.write(
          `${JSON.stringify(
            hits.map((h) =>
              h.start !== undefined ? { path: h.path, score: h.score, start: h.start, end: h.end } : { path: h.path, score: h.score },
            ),
          )}\n`,
        );
      } else if (hits.length === 0) {
        ctx.stderr.write('no matches\n');
      } else {
        for (const h of hits)
          ctx.stdout.write(
            `${h.score.toFixed(4)}  ${h.path}${h.start !== undefined ? `  [${fmtTime(h.start)}–${fmtTime(h.end!)}]` : ''}\n`,
          );
      }
    } finally {
      await index.close();
      await clap.release();
    }
  },
});
