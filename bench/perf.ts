/**
 * Bench sections of issue #9 beyond raw encoder speed: the worker pipeline, cold start of the CLI,
 * peak memory, and the precision options. CPU time (process.cpuUsage, this process; `time` for
 * children) is reported beside wall time: on a shared machine wall time swings.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { audioToLogMel, synthWav } from '../src/audio/index.js';
import type { Precision } from '../src/engine/quant.js';
import { CLAP_2023 } from '../src/models/clap/index.js';
import { Clap } from '../src/tasks/clap.js';
import { fullSizeCheckpoint, fullSizeClap, fullSizeWeights, LABELS } from './model.js';
import type { Section } from './sections.js';
import { cosine, fmt, timeOnce } from './util.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

let folder: string[] | undefined;
/** A folder of 7 s WAVs (44.1 and 48 kHz, mono and stereo), written once per run. */
function wavFolder(n = 16): string[] {
  if (folder) return folder;
  const dir = mkdtempSync(join(tmpdir(), 'clap-bench-wavs-'));
  folder = Array.from({ length: n }, (_, i) => {
    const p = join(dir, `clip${String(i).padStart(3, '0')}.wav`);
    writeFileSync(p, synthWav(i % 2 ? 48000 : 44100, 7, 1 + (i % 3 === 0 ? 1 : 0)));
    return p;
  });
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return folder;
}

const pipelineSection: Section = {
  name: 'pipeline: a folder of 7 s WAVs vs the encoder alone',
  async run(result, rows) {
    const clap = await fullSizeClap();
    const files = wavFolder(16);
    const logmels = await Promise.all(files.map(async (f) => (await audioToLogMel(f)).logmels[0]));
    await clap.embedLogMels(logmels.slice(0, 4), 4); // warm
    await clap.embedAudio(files.slice(0, 4)); // warm (workers started)
    const enc = await timeOnce(() => clap.embedLogMels(logmels, 4));
    const par = await timeOnce(() => clap.embedAudio(files));
    const seq = await timeOnce(() => clap.embedAudio(files, { workers: 0 }));
    const n = files.length;
    const ratio = enc.wall / par.wall;
    result.pipeline_ratio = ratio;
    result.pipeline = {
      files: n,
      encoder_only: { clips_per_s: n / enc.wall, cpu_s_per_clip: enc.cpu / n },
      pipelined: { clips_per_s: n / par.wall, cpu_s_per_clip: par.cpu / n },
      sequential: { clips_per_s: n / seq.wall, cpu_s_per_clip: seq.cpu / n },
      ratio_cpu: enc.cpu / par.cpu,
      sequential_ratio: enc.wall / seq.wall,
    };
    rows.push({
      what: `pipeline: ${n} WAVs (files/s ÷ encoder-only)`,
      value:
        `${fmt(100 * ratio)}% (${fmt(n / par.wall)} vs ${fmt(n / enc.wall)} clips/s; sequential frontend ${fmt((100 * enc.wall) / seq.wall)}%); ` +
        `CPU s/clip ${fmt(par.cpu / n)} vs ${fmt(enc.cpu / n)}`,
    });
  },
};

function hasTime(): boolean {
  return existsSync('/usr/bin/time');
}

/** Runs the real CLI; wall seconds, and CPU seconds + peak RSS of the child when /usr/bin/time exists. */
function runCli(args: string[], env: NodeJS.ProcessEnv): { wall: number; cpu?: number; rssMb?: number } {
  const bin = join(ROOT, 'bin', 'clap.js');
  const t0 = performance.now();
  const r = hasTime()
    ? spawnSync('/usr/bin/time', ['-f', 'TIME %U %S %M', process.execPath, bin, ...args], { env, encoding: 'utf8' })
    : spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`clap ${args[0]} failed: ${(r.stderr || '').trim().split('\n').slice(-2).join(' ')}`);
  const m = /TIME ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  return m ? { wall, cpu: Number(m[1]) + Number(m[2]), rssMb: Number(m[3]) / 1024 } : { wall };
}

/** dist/ is what bin/clap.js runs: rebuild it when a source file is newer. */
function ensureDist(): void {
  const newest = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .reduce((m, e) => Math.max(m, statSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).mtimeMs), 0);
  const built = join(ROOT, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(built) || statSync(built).mtimeMs < newest(join(ROOT, 'src'))) {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  }
}

const coldSection: Section = {
  name: 'start-up: `clap classify one.wav --labels …` (full size, fresh process)',
  async run(result, rows) {
    ensureDist();
    const pth = await fullSizeCheckpoint();
    const wav = wavFolder()[0];
    const cache = mkdtempSync(join(tmpdir(), 'clap-bench-cache-'));
    try {
      const env = { ...process.env, CLAP_CACHE_DIR: cache, CLAP_THREADS: '2' };
      const args = ['classify', wav, '--labels', LABELS.join(','), '--weights', pth, '--config', '2023', '--json'];
      const cold = runCli(args, env);
      const warm = runCli(args, env);
      const warm2 = runCli(args, env);
      const best = warm.wall <= warm2.wall ? warm : warm2;
      // New labels: the model cache is warm but the text embeddings are not.
      const newLabels = runCli([...args.slice(0, 3), LABELS.map((l) => `${l}s`).join(','), ...args.slice(4)], env);
      result.cold_classify_s = best.wall;
      result.cold_classify = {
        empty_cache: cold,
        warm_cache: best,
        warm_cache_new_labels: newLabels,
        cache_mb: readdirSync(cache).reduce((s, f) => s + statSync(join(cache, f)).size, 0) / 1e6,
      };
      const cpu = (x: { cpu?: number }): string => (x.cpu !== undefined ? `, CPU ${fmt(x.cpu)} s` : '');
      const rss = (x: { rssMb?: number }): string => (x.rssMb !== undefined ? `, peak ${x.rssMb.toFixed(0)} MB` : '');
      rows.push({
        what: 'cold classify, model cache warm (s)',
        value: `${fmt(best.wall)}${cpu(best)}${rss(best)} (new labels: ${fmt(newLabels.wall)}${cpu(newLabels)})`,
      });
      rows.push({
        what: 'cold classify, empty cache (s)',
        value: `${fmt(cold.wall)}${cpu(cold)}${rss(cold)} (builds + stores the optimised models)`,
      });
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  },
};

const memorySection: Section = {
  name: 'memory: peak RSS of full-size inference (child process)',
  async run(result, rows) {
    const pth = await fullSizeCheckpoint();
    const files = wavFolder();
    const many = Array.from({ length: 48 }, (_, i) => files[i % files.length]);
    const child = fileURLToPath(new URL('./rss-child.ts', import.meta.url));
    const cache = mkdtempSync(join(tmpdir(), 'clap-bench-cache-'));
    try {
      const run = (): { classify: number; afterHalf: number; afterAll: number; halfFiles: number; allFiles: number } =>
        JSON.parse(
          execFileSync(process.execPath, ['--import', 'tsx', child, pth, files[0], ...many], {
            encoding: 'utf8',
            cwd: ROOT,
            env: { ...process.env, CLAP_CACHE_DIR: cache, CLAP_THREADS: '2' },
          }),
        ) as never;
      const cold = run();
      const warm = run();
      result.peak_rss_mb = warm.afterAll;
      result.peak_rss = { warm_cache: warm, empty_cache: cold };
      rows.push({
        what: 'peak RSS, full-size classify (MB)',
        value: `${warm.classify.toFixed(0)} (model cache warm; ${cold.classify.toFixed(0)} on the run that builds it)`,
      });
      rows.push({
        what: 'peak RSS after embedding N files (MB)',
        value: `${warm.afterHalf.toFixed(0)} after ${warm.halfFiles}, ${warm.afterAll.toFixed(0)} after ${warm.halfFiles + warm.allFiles}`,
      });
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  },
};

const argmax = (r: number[]): number => r.indexOf(Math.max(...r));

const FIXTURES = fileURLToPath(new URL('../../shared/fixtures/msclap-tiny-seed1/', import.meta.url));

/** Zero-shot top-1 of each clip against the labels, plus the raw embeddings. */
async function zeroShot(
  clap: Clap,
  clips: string[],
  labels: string[],
): Promise<{ top1: number[]; audio: Float32Array[]; text: Float32Array[] }> {
  const text = await clap.embedText(labels.map((l) => `this is the sound of ${l}`));
  const audio = (await clap.embedAudio(clips)).map((e) => e.embedding);
  return { top1: clap.similarity(audio, text).map(argmax), audio, text };
}

const precisionSection: Section = {
  name: 'precision: fp32 vs fp16-weights vs int8 (speed, cosine, zero-shot top-1 agreement)',
  async run(result, rows) {
    const files = wavFolder();
    const logmels = await Promise.all(files.slice(0, 8).map(async (f) => (await audioToLogMel(f)).logmels[0]));
    const texts = LABELS.map((l) => `this is the sound of ${l}`);
    // Fixture (tiny, trained-like) model: cosine and top-1 agreement on the fixture clips + the bench folder.
    const hasFix = existsSync(join(FIXTURES, 'clap.pth'));
    const fixClips = hasFix
      ? [...readdirSync(join(FIXTURES, 'inputs', 'audio')).map((f) => join(FIXTURES, 'inputs', 'audio', f)), ...files]
      : [];
    const fixLabels = hasFix
      ? (JSON.parse(readFileSync(join(FIXTURES, 'inputs', 'texts.json'), 'utf8')) as { zero_shot_classes: string[] }).zero_shot_classes
      : [];
    const loadFix = (p: Precision): Promise<Clap> =>
      Clap.load({ weights: join(FIXTURES, 'clap.pth'), config: join(FIXTURES, 'config.json'), precision: p, cacheDir: false });
    const fixRef = hasFix ? await zeroShot(await loadFix('fp32'), fixClips, fixLabels) : undefined;

    const speed = async (
      clap: Clap,
    ): Promise<{ audio: { wall: number; cpu: number }; text: { wall: number; cpu: number }; a: Float32Array[]; t: Float32Array[] }> => {
      const a = await clap.embedLogMels(logmels, 4);
      const t = await clap.embedText(texts);
      let audio = { wall: Infinity, cpu: Infinity };
      let text = { wall: Infinity, cpu: Infinity };
      for (let i = 0; i < 2; i++) {
        const m = await timeOnce(() => clap.embedLogMels(logmels, 4));
        if (m.wall < audio.wall) audio = { wall: m.wall / logmels.length, cpu: m.cpu / logmels.length };
      }
      for (let i = 0; i < 3; i++) {
        const m = await timeOnce(() => clap.embedText(texts));
        if (m.wall < text.wall) text = { wall: m.wall, cpu: m.cpu };
      }
      return { audio, text, a, t };
    };
    const ref = await speed(await fullSizeClap());
    const out: Record<string, unknown> = { fp32: { audio_s_per_clip: ref.audio, text_s_10_labels: ref.text } };
    for (const p of ['fp16-weights', 'int8'] as const) {
      const clap = await Clap.load({ weights: fullSizeWeights(), config: { ...CLAP_2023 }, precision: p });
      const r = await speed(clap);
      await clap.release();
      const minCos = (x: Float32Array[], y: Float32Array[]): number => Math.min(...x.map((v, i) => cosine(v, y[i])));
      let fixture: Record<string, number> | undefined;
      if (fixRef) {
        const c = await loadFix(p);
        const z = await zeroShot(c, fixClips, fixLabels);
        await c.release();
        fixture = {
          audio_cosine_min: minCos(z.audio, fixRef.audio),
          text_cosine_min: minCos(z.text, fixRef.text),
          top1_agreement: z.top1.filter((t, i) => t === fixRef.top1[i]).length / z.top1.length,
          clips: z.top1.length,
        };
      }
      const entry = {
        audio_speedup: ref.audio.wall / r.audio.wall,
        audio_speedup_cpu: ref.audio.cpu / r.audio.cpu,
        text_speedup: ref.text.wall / r.text.wall,
        text_speedup_cpu: ref.text.cpu / r.text.cpu,
        cosine_full_size_audio_min: minCos(r.a, ref.a),
        cosine_full_size_text_min: minCos(r.t, ref.t),
        fixture,
        audio_s_per_clip: r.audio,
        text_s_10_labels: r.text,
      };
      out[p] = entry;
      rows.push({
        what: `precision ${p}`,
        value:
          `audio ${fmt(entry.audio_speedup)}x (CPU ${fmt(entry.audio_speedup_cpu)}x), ` +
          `text ${fmt(entry.text_speedup)}x (CPU ${fmt(entry.text_speedup_cpu)}x); ` +
          `cosine vs fp32 full-size audio ${entry.cosine_full_size_audio_min.toFixed(5)} text ${entry.cosine_full_size_text_min.toFixed(5)}` +
          (fixture
            ? `; fixtures audio ${fixture.audio_cosine_min.toFixed(5)} text ${fixture.text_cosine_min.toFixed(5)}, ` +
              `top-1 agreement ${fmt(100 * fixture.top1_agreement)}% of ${fixture.clips}`
            : ''),
      });
    }
    result.precision = out;
  },
};

export const perfSections: Section[] = [pipelineSection, coldSection, memorySection, precisionSection];
