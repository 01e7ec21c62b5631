/**
 * Corpus check for the audio decoders (issue 12): decodes every audio file under the given folders with
 * clap-ts (native decoders, the ffmpeg fallback for the rest) and, when ffmpeg is there, with ffmpeg
 * itself, and reports per format: files, decoded, refused (reasons grouped, with what ffmpeg makes of
 * the same files), and agreement with ffmpeg's decode — same rate, channels and sample count (after
 * gapless trimming, which ffmpeg and torchaudio 0.13 apply), and the largest sample difference.
 *
 *   npm run corpus -- DIR... [--transcode N] [--transcode-dir DIR] [--sample N] [--journal FILE] [--json]
 *                        [--ffmpeg BIN | --no-ffmpeg] [--limit N]
 *
 * --transcode N first makes N files per recipe in scripts/corpus-transcode.ts (MP3, M4A, Opus, FLAC, Ogg,
 * A-law/ADPCM WAV) from sources under DIR into --transcode-dir (default: a folder in the system's temp
 * dir), then checks them first, before the rest. --sample N checks N of the files found (a seeded
 * random choice, the same every run) instead of all: a quick look at a large folder. Progress goes to
 * stderr; the report (a Markdown table, or JSON with --json) to stdout. Ctrl-C stops early and reports
 * what was checked. --journal FILE appends each file's result to FILE (JSON lines) and reuses the results
 * already there: a run over a large set (the whole Debian set is hours on 2 cores) can be stopped and
 * resumed with the same command. Delete the journal to check every file again (e.g. after a decoder change).
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeAudio, NeedsFfmpegError, sniffAudio } from '../src/audio/decode.js';
import { parseAuHeader } from '../src/audio/au.js';
import { BufferReader } from '../src/audio/bytes.js';
import { FileReader } from '../src/audio/file-reader.js';
import { lastOggGranule, oggLinks } from '../src/audio/ogg.js';
import { findFfmpeg } from '../src/audio/ffmpeg.js';
import { FORMAT_NAMES } from '../src/audio/sniff.js';
import type { DecodedAudio } from '../src/audio/source.js';
import { type PcmEncoding, UnsupportedCodecError } from '../src/audio/pcm.js';
import { parseWavHeader } from '../src/audio/wav.js';
import { Progress } from '../src/cli/progress.js';
import { walkAudio } from '../src/store/walk.js';
import { Rng } from '../src/tasks/rng.js';
import { makeTranscodes } from './corpus-transcode.js';

const USAGE =
  'usage: npm run corpus -- DIR... [--transcode N] [--transcode-dir DIR] [--sample N] [--journal FILE] [--json] ' +
  '[--ffmpeg BIN | --no-ffmpeg] [--limit N]';

/** A sample difference above this, or any count mismatch, lists the file among the disagreements. */
const DISAGREE = 1e-3;

interface Decoded {
  rate: number;
  channels: number;
  length: number;
}
type Outcome = ({ ok: true } & Decoded) | { ok: false; reason: string };

interface FileResult {
  path: string;
  set: string;
  format: string;
  ours: Outcome & { viaFfmpeg?: boolean };
  ffmpeg?: Outcome & { warning?: string };
  /** Largest |ours − ffmpeg| over the common channels and samples. */
  maxDiff?: number;
  /** ffmpeg's own sample count minus the one compared with (Ogg Vorbis only: see vorbisLength). */
  referenceAdjusted?: number;
}

const ENCODING_NAMES: Record<PcmEncoding, string> = { pcm: 'PCM', float: 'float', mulaw: 'μ-law', alaw: 'A-law' };

/** The format as the decoders see it: sniffed from the bytes; WAV and .au split by encoding. */
function formatOf(path: string): string {
  let reader: FileReader | null = null;
  try {
    const format = sniffAudio(path);
    if (format !== 'wav' && format !== 'au') return format ? FORMAT_NAMES[format] : 'unrecognised';
    reader = new FileReader(path);
    try {
      const l = format === 'wav' ? parseWavHeader(reader) : parseAuHeader(reader);
      const bits = l.format === 'pcm' || l.format === 'float' ? ` ${l.bytesPerSample * 8}-bit` : '';
      return `${FORMAT_NAMES[format]} ${ENCODING_NAMES[l.format]}${bits}`;
    } catch (e) {
      return e instanceof UnsupportedCodecError ? e.what : FORMAT_NAMES[format];
    }
  } catch {
    return 'unreadable';
  } finally {
    reader?.close();
  }
}

/** What the user would read, without the path in front. */
function reasonOf(err: unknown, path: string): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith(`${path}: `) ? message.slice(path.length + 2) : message;
}

/** Our decode: natively, and through the ffmpeg fallback only for what is not decoded natively. */
async function decodeOurs(path: string, ffmpeg: string | null): Promise<{ outcome: FileResult['ours']; audio?: DecodedAudio }> {
  try {
    const audio = await decodeAudio(path, { ffmpeg: false });
    return { outcome: { ok: true, ...shape(audio) }, audio };
  } catch (err) {
    if (!(err instanceof NeedsFfmpegError) || !ffmpeg) return { outcome: { ok: false, reason: reasonOf(err, path) } };
  }
  try {
    const audio = await decodeAudio(path, { ffmpeg });
    return { outcome: { ok: true, viaFfmpeg: true, ...shape(audio) }, audio };
  } catch (err) {
    return { outcome: { ok: false, viaFfmpeg: true, reason: reasonOf(err, path) } };
  }
}

const libopus = new Map<string, boolean>();
function hasLibopus(bin: string): boolean {
  let has = libopus.get(bin);
  if (has === undefined) {
    has = / libopus /.test(spawnSync(bin, ['-hide_banner', '-decoders']).stdout?.toString() ?? '');
    libopus.set(bin, has);
  }
  return has;
}

function shape(a: DecodedAudio): Decoded {
  return { rate: a.sampleRate, channels: a.channels.length, length: a.channels[0].length };
}

/**
 * ffmpeg's own decode of the first audio stream, as float32 (exact values, no torchaudio quirks).
 * Opus goes through ffmpeg's libopus decoder when it has one: torchaudio 0.13 reads Opus with libopus
 * (sox, opusfile), and ffmpeg's native Opus decoder is a different implementation (up to 0.45 apart
 * on speech).
 */
function decodeFfmpeg(
  bin: string,
  path: string,
  format: string,
): Promise<{ outcome: NonNullable<FileResult['ffmpeg']>; channels?: Float32Array[] }> {
  const decoder = format === FORMAT_NAMES['ogg-opus'] && hasLibopus(bin) ? ['-c:a', 'libopus', '-request_sample_fmt', 'flt'] : [];
  const input = ['-hide_banner', '-nostdin', '-v', 'error', ...decoder, '-i', `file:${resolve(path)}`];
  const args = [...input, '-map', '0:a:0', '-f', 'wav', '-acodec', 'pcm_f32le'];
  return new Promise((done) => {
    const start = () => spawn(bin, [...args, '-rf64', 'auto', 'pipe:1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let child: ReturnType<typeof start>;
    try {
      child = start();
    } catch (e) {
      // Some failures (ELOOP, EACCES on a path) are thrown, not emitted: one file's reference fails, the run goes on.
      return done({ outcome: { ok: false, reason: `could not run ${bin}: ${(e as Error).message}` } });
    }
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', (e) => done({ outcome: { ok: false, reason: e.message } }));
    child.on('close', (code) => {
      const lines = err
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length > 0);
      if (code !== 0) return done({ outcome: { ok: false, reason: lines.pop() ?? `exit code ${code}` } });
      try {
        const bytes = Buffer.concat(out);
        const layout = parseWavHeader(new BufferReader('ffmpeg output', bytes));
        const n = layout.numFrames;
        const nc = layout.numChannels;
        const data = new Float32Array(
          bytes.buffer.slice(bytes.byteOffset + layout.dataOffset, bytes.byteOffset + layout.dataOffset + n * nc * 4),
        );
        const channels = Array.from({ length: nc }, (_, c) => {
          const ch = new Float32Array(n);
          for (let i = 0; i < n; i++) ch[i] = data[i * nc + c];
          return ch;
        });
        const warning = lines[0];
        done({ outcome: { ok: true, rate: layout.sampleRate, channels: nc, length: n, ...(warning ? { warning } : {}) }, channels });
      } catch (e) {
        done({ outcome: { ok: false, reason: `no audio (${reasonOf(e, 'ffmpeg output')})` } });
      }
    });
  });
}

function maxDifference(a: Float32Array[], b: Float32Array[]): number {
  let max = 0;
  for (let c = 0; c < Math.min(a.length, b.length); c++) {
    const x = a[c];
    const y = b[c];
    for (let i = 0, n = Math.min(x.length, y.length); i < n; i++) {
      const d = Math.abs(x[i] - y[i]);
      if (d > max) max = d;
    }
  }
  return max;
}

/**
 * The sample count torchaudio 0.13 gives an Ogg Vorbis file: it reads Vorbis with sox, whose
 * libvorbisfile ends each link of the stream at its last page's granule position and drops the samples
 * a first page's granule says come before the start (as our decoder does). ffmpeg (5.1) ends elsewhere:
 * it trims nothing at the start, decodes the final packet whole, or drops samples of a stream that fits
 * in one page. So for Vorbis the count is checked against sox's own (`soxi -s`) when sox is installed,
 * else against the granule positions, and samples against ffmpeg's over their common length. Null for
 * other formats.
 */
function vorbisLength(path: string, format: string): number | null {
  if (format !== FORMAT_NAMES['ogg-vorbis'] && format !== 'WAV codec Ogg Vorbis') return null;
  if (format === FORMAT_NAMES['ogg-vorbis']) {
    const soxi = spawnSync('soxi', ['-s', path], { encoding: 'utf8' });
    const n = soxi.status === 0 ? Number(soxi.stdout.trim()) : Number.NaN;
    if (Number.isInteger(n) && n > 0) return n;
  }
  const bytes = readFileSync(path);
  let total = 0;
  for (const link of oggLinks(bytes.subarray(Math.max(0, bytes.indexOf('OggS'))))) {
    const end = lastOggGranule(link);
    if (end === null) return null;
    total += end;
  }
  return total;
}

async function checkFile(path: string, set: string, ffmpeg: string | null): Promise<FileResult> {
  const format = formatOf(path);
  const reference = ffmpeg ? decodeFfmpeg(ffmpeg, path, format) : null; // runs alongside our decode
  const ours = await decodeOurs(path, ffmpeg);
  const result: FileResult = { path, set, format, ours: ours.outcome };
  if (reference) {
    const ref = await reference;
    result.ffmpeg = ref.outcome;
    if (ref.channels && ref.outcome.ok) {
      const expected = vorbisLength(path, result.format);
      if (expected !== null && expected !== ref.outcome.length) {
        result.referenceAdjusted = ref.outcome.length - expected;
        ref.outcome.length = expected;
      }
      if (ours.audio && ref.outcome.rate === ours.audio.sampleRate) result.maxDiff = maxDifference(ours.audio.channels, ref.channels);
    }
  }
  return result;
}

/** Same rate, channels and length as ffmpeg. */
function agrees(r: FileResult): boolean {
  const o = r.ours;
  const f = r.ffmpeg;
  return !!(o.ok && f?.ok && o.rate === f.rate && o.channels === f.channels && o.length === f.length);
}

const plural = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;

/** Decoded by both, but not the same count or not the same samples. */
function disagrees(r: FileResult): boolean {
  return r.ours.ok && !!r.ffmpeg?.ok && (!agrees(r) || (r.maxDiff ?? Infinity) > DISAGREE);
}

function describe(r: FileResult): string {
  const o = r.ours as Decoded;
  const f = r.ffmpeg as Decoded;
  const diff = r.maxDiff?.toExponential(2) ?? 'n/a';
  return `${r.path}: ours ${o.rate} Hz × ${o.channels} × ${o.length}, ffmpeg ${f.rate} Hz × ${f.channels} × ${f.length}, max diff ${diff}`;
}

/** Numbers vary from file to file; the reason does not. */
function reasonGroup(reason: string): string {
  return reason.replace(/\b\d+(\.\d+)?\b/g, 'N');
}

interface FormatRow {
  set: string;
  format: string;
  files: number;
  decoded: number;
  viaFfmpeg: number;
  refused: number;
  compared: number;
  sameShape: number;
  maxLengthDiff: number;
  maxSampleDiff: number;
  worstFile: string | null;
  ffmpegOnlyFails: number;
  referenceAdjusted: number;
}

interface RefusalGroup {
  set: string;
  format: string;
  reason: string;
  files: number;
  ffmpegFails: number;
  ffmpegWarns: number;
  example: string;
}

function summarise(results: FileResult[]): { formats: FormatRow[]; refusals: RefusalGroup[]; disagreements: FileResult[] } {
  const rows = new Map<string, FormatRow>();
  const refusals = new Map<string, RefusalGroup>();
  const disagreements: FileResult[] = [];
  for (const r of results) {
    const key = `${r.set}\0${r.format}`;
    let row = rows.get(key);
    if (!row) {
      row = {
        set: r.set,
        format: r.format,
        files: 0,
        decoded: 0,
        viaFfmpeg: 0,
        refused: 0,
        compared: 0,
        sameShape: 0,
        maxLengthDiff: 0,
        maxSampleDiff: 0,
        worstFile: null,
        ffmpegOnlyFails: 0,
        referenceAdjusted: 0,
      };
      rows.set(key, row);
    }
    row.files++;
    if (r.referenceAdjusted) row.referenceAdjusted++;
    if (r.ours.ok) {
      row.decoded++;
      if (r.ours.viaFfmpeg) row.viaFfmpeg++;
      if (r.ffmpeg && !r.ffmpeg.ok) row.ffmpegOnlyFails++;
    } else {
      row.refused++;
      const reason = reasonGroup(r.ours.reason);
      const gkey = `${key}\0${reason}`;
      const g = refusals.get(gkey) ?? { set: r.set, format: r.format, reason, files: 0, ffmpegFails: 0, ffmpegWarns: 0, example: r.path };
      g.files++;
      if (r.ffmpeg && !r.ffmpeg.ok) g.ffmpegFails++;
      else if (r.ffmpeg?.warning) g.ffmpegWarns++;
      refusals.set(gkey, g);
    }
    if (r.ours.ok && r.ffmpeg?.ok) {
      row.compared++;
      if (agrees(r)) row.sameShape++;
      row.maxLengthDiff = Math.max(row.maxLengthDiff, Math.abs(r.ours.length - r.ffmpeg.length));
      if (r.maxDiff !== undefined && r.maxDiff >= row.maxSampleDiff) {
        row.maxSampleDiff = r.maxDiff;
        row.worstFile = r.path;
      }
      if (disagrees(r)) disagreements.push(r);
    }
  }
  const order = (a: { set: string; format: string }, b: { set: string; format: string }): number =>
    a.set.localeCompare(b.set) || a.format.localeCompare(b.format);
  return {
    formats: [...rows.values()].sort(order),
    refusals: [...refusals.values()].sort((a, b) => order(a, b) || b.files - a.files),
    disagreements,
  };
}

function markdown(summary: ReturnType<typeof summarise>, header: string[], withFfmpeg: boolean): string {
  const lines = [...header, ''];
  const cols = ['set', 'format', 'files', 'decoded', 'via ffmpeg', 'refused'];
  if (withFfmpeg) cols.push('rate, channels, length = ffmpeg', 'max length diff', 'max sample diff');
  lines.push(`| ${cols.join(' | ')} |`, `| ${cols.map((_, i) => (i < 2 ? '---' : '--:')).join(' | ')} |`);
  for (const r of summary.formats) {
    const cells = [r.set, r.format, r.files, r.decoded, r.viaFfmpeg || '', r.refused || ''];
    if (withFfmpeg) {
      const same = r.compared ? `${r.sameShape}/${r.compared}` : '';
      cells.push(same, r.compared ? r.maxLengthDiff : '', r.compared ? r.maxSampleDiff.toExponential(1) : '');
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  if (withFfmpeg) {
    const adjusted = summary.formats.reduce((n, r) => n + r.referenceAdjusted, 0);
    lines.push(
      '',
      'Sample counts are after gapless trimming: ffmpeg trims MP3 (LAME tag), Opus and AAC itself, as torchaudio 0.13 reads them. ' +
        'Opus is compared with ffmpeg using libopus, in float. ' +
        "Ogg Vorbis counts are compared with libvorbisfile's (`soxi -s`; sox is what torchaudio 0.13 reads Vorbis with), or " +
        `without sox with the last granule position; ffmpeg's own count differs from it for ${plural(adjusted, 'file')}.`,
    );
  }
  if (summary.refusals.length > 0) {
    lines.push('', 'Refused, by reason (N stands for numbers that vary):', '');
    for (const g of summary.refusals) {
      const ff = withFfmpeg ? `; ffmpeg fails on ${g.ffmpegFails}, reports errors on ${g.ffmpegWarns}` : '';
      lines.push(`- ${g.set} ${g.format}: ${g.files} × ${g.reason} (e.g. ${g.example}${ff})`);
    }
  }
  if (summary.disagreements.length > 0) {
    lines.push('', `Decoded by both but different from ffmpeg (count, or a sample difference over ${DISAGREE}):`, '');
    for (const r of summary.disagreements.slice(0, 30)) lines.push(`- ${describe(r)}`);
    if (summary.disagreements.length > 30) lines.push(`- … and ${summary.disagreements.length - 30} more (--json lists all)`);
  }
  return `${lines.join('\n')}\n`;
}

/** Results a journal holds, by path; a line cut short by a killed run is left out (that file is checked again). */
function readJournal(path: string): Map<string, FileResult> {
  const results = new Map<string, FileResult>();
  if (!existsSync(path)) return results;
  const text = readFileSync(path, 'utf8');
  if (text.length > 0 && !text.endsWith('\n')) appendFileSync(path, '\n'); // new results start on a line of their own
  for (const line of text.split('\n')) {
    try {
      const r = JSON.parse(line) as FileResult;
      if (typeof r.path === 'string' && r.ours) results.set(r.path, r);
    } catch {
      // the torn last line of an interrupted run
    }
  }
  return results;
}

function parseCommandLine() {
  return parseArgs({
    allowPositionals: true,
    options: {
      json: { type: 'boolean' },
      ffmpeg: { type: 'string' },
      'no-ffmpeg': { type: 'boolean' },
      transcode: { type: 'string' },
      'transcode-dir': { type: 'string' },
      limit: { type: 'string' },
      sample: { type: 'string' },
      journal: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

async function main(): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine();
  } catch (e) {
    process.stderr.write(`corpus: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values: o, positionals: dirs } = parsed;
  if (o.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const count = (flag: string, v: string | undefined): number | null => {
    if (v === undefined) return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${flag} ${v}: expected a whole number ≥ 1`);
    return n;
  };
  let transcodeN: number | null;
  let limit: number | null;
  let sample: number | null;
  try {
    transcodeN = count('transcode', o.transcode);
    limit = count('limit', o.limit);
    sample = count('sample', o.sample);
    if (dirs.length === 0) throw new Error('name at least one folder to check');
  } catch (e) {
    process.stderr.write(`corpus: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const ffmpeg = o['no-ffmpeg'] ? null : findFfmpeg(o.ffmpeg ?? undefined);
  if (!ffmpeg && !o['no-ffmpeg'])
    process.stderr.write('corpus: ffmpeg not found: checking our decoders only (no comparison, no fallback)\n');
  if (transcodeN && !ffmpeg) {
    process.stderr.write('corpus: --transcode needs ffmpeg\n');
    return 2;
  }

  let stopping = false;
  process.on('SIGINT', () => {
    if (stopping) process.exit(130);
    stopping = true;
    process.stderr.write('\ncorpus: stopping after the current file (Ctrl-C again to quit now)\n');
  });
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });

  const roots = dirs.map((d) => resolve(d));
  const found: { path: string; set: string }[] = [];
  for (const root of roots) {
    const walk = await walkAudio([root]);
    for (const s of walk.skipped) process.stderr.write(`corpus: skipped ${s.path}: ${s.reason}\n`);
    for (const f of walk.files) found.push({ path: f.path, set: basename(root) });
  }
  const transcodes: typeof found = [];
  if (transcodeN && ffmpeg) {
    const dir = resolve(o['transcode-dir'] ?? join(tmpdir(), 'clap-corpus-transcodes'));
    process.stderr.write(`corpus: making ${transcodeN} transcodes per recipe in ${dir}\n`);
    const made = await makeTranscodes(
      found.map((f) => f.path),
      transcodeN,
      dir,
      ffmpeg,
      (line) => process.stderr.write(`corpus: ${line}\n`),
      () => stopping,
    );
    transcodes.push(...made.map((path) => ({ path, set: 'transcodes' })));
    roots.push(dir);
  }
  const chosen = sample && sample < found.length ? new Rng(12).shuffle(found.slice()).slice(0, sample) : found;
  const all = [...transcodes, ...chosen];
  const files = limit ? all.slice(0, limit) : all;

  const results: FileResult[] = [];
  const journal = o.journal ? resolve(o.journal) : null;
  const journaled = journal ? readJournal(journal) : new Map<string, FileResult>();
  if (journaled.size > 0) process.stderr.write(`corpus: ${journaled.size} results from ${journal} reused\n`);
  const progress = new Progress(files.length, 'corpus', process.stderr);
  for (const f of files) {
    if (stopping) break;
    const earlier = journaled.get(f.path);
    if (earlier) {
      results.push({ ...earlier, set: f.set });
      progress.tick();
      continue;
    }
    const r = await checkFile(f.path, f.set, ffmpeg);
    results.push(r);
    if (journal) appendFileSync(journal, `${JSON.stringify(r)}\n`);
    // Findings as they come (above the bar on a TTY), so a long run can be looked into while it runs.
    const finding = !r.ours.ok ? `refused ${r.path}: ${r.ours.reason}` : disagrees(r) ? `differs from ffmpeg: ${describe(r)}` : null;
    if (finding) process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}corpus: ${finding}\n`);
    progress.tick();
  }
  progress.stop();

  const summary = summarise(results);
  const version = ffmpeg ? (spawnSync(ffmpeg, ['-version']).stdout?.toString().split('\n')[0] ?? ffmpeg) : null;
  const date = new Date().toISOString().slice(0, 10);
  const interrupted = results.length < files.length;
  if (o.json) {
    const report = {
      date,
      roots,
      ffmpeg: version,
      found: found.length,
      files: files.length,
      checked: results.length,
      interrupted,
      ...summary,
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const header = [
      `Corpus check, ${date}: ${results.length}${interrupted ? ` of ${files.length} (interrupted)` : ''} files under ${roots.join(', ')}` +
        (chosen.length < found.length
          ? ` (a sample of ${chosen.length} of the ${found.length} found there${transcodes.length ? ', and all transcodes' : ''})`
          : ''),
      version ? `compared with ${version}` : 'ffmpeg not used',
    ];
    process.stdout.write(markdown(summary, header, ffmpeg !== null));
  }
  return interrupted ? 130 : 0;
}

process.exitCode = await main();
