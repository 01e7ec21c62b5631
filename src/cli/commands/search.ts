import { type Command, num, str, UsageError } from '../command.js';
import type { IndexQuery, IndexSearchOptions, SearchMode } from '../../tasks/clap-index.js';
import { DB_OPTION, INDEX_MODEL_HELP, openWithModel } from './index-cmd.js';
import { intOption, MODEL_OPTIONS } from './shared.js';

function fmtTime(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}:${(s - m * 60).toFixed(1).padStart(4, '0')}` : `${s.toFixed(1)}s`;
}

export const search: Command = {
  path: ['search'],
  usage: 'search "TEXT" --db DIR',
  summary: 'Search an index by text, by example (--like FILE), or rank its captions for a sound (--audio FILE --captions)',
  options: {
    ...MODEL_OPTIONS,
    ...DB_OPTION,
    top: { type: 'string' },
    like: { type: 'string' },
    audio: { type: 'string' },
    captions: { type: 'boolean' },
    glob: { type: 'string' },
    'min-duration': { type: 'string' },
    'max-duration': { type: 'string' },
    exact: { type: 'boolean' },
    ann: { type: 'boolean' },
    nprobes: { type: 'string' },
    refine: { type: 'string' },
    level: { type: 'string' },
  },
  help: [
    INDEX_MODEL_HELP,
    '  --top K            results (default 10)',
    '  --like FILE        audio→audio: files that sound like FILE (FILE itself left out)',
    "  --audio FILE       the query is a sound; with --captions, rank the index's captions for it",
    '  --captions         audio→text: rank the captions added with clap index captions',
    "  --glob G           only paths matching G ('*.wav' matches names, 'drums/**' folders)",
    '  --min-duration S, --max-duration S   only files this long (seconds)',
    '  --exact            scan every vector (ignore the ANN index)',
    '  --ann              require the ANN index; --nprobes N (default 20), --refine N (default 30) tune it',
    "  --level L          'window' (sliding indexes: best window per file, default there) or 'file'",
    '  --json             [{"path","score","start"?,"end"?}]; with --captions [{"text","score"}]',
  ].join('\n'),
  async run(ctx) {
    const v = ctx.values;
    const like = str(v, 'like');
    const audio = str(v, 'audio');
    const captions = v.captions === true;
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
    const top = intOption(v, 'top') ?? 10;
    if (v.exact === true && v.ann === true) throw new UsageError('give --exact or --ann, not both');
    const mode: SearchMode = v.exact === true ? 'exact' : v.ann === true ? 'ann' : 'auto';
    const level = str(v, 'level');
    if (level !== undefined && level !== 'file' && level !== 'window')
      throw new UsageError(`--level must be 'file' or 'window', got '${level}'`);
    const nprobes = intOption(v, 'nprobes');
    const refineFactor = intOption(v, 'refine');
    const minDuration = num(v, 'min-duration');
    const maxDuration = num(v, 'max-duration');
    const options: IndexSearchOptions = { top, glob: str(v, 'glob'), minDuration, maxDuration, mode, nprobes, refineFactor, level };

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
};
