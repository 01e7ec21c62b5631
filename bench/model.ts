import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { countFlops } from '../src/engine/flops.js';
import { audioToLogMel, synthWav } from '../src/audio/index.js';
import { buildAudioEncoderGraph, CLAP_2023 } from '../src/models/clap/index.js';
import { randomWeights, writeRandomWeights } from '../src/tasks/random-weights.js';
import { Clap } from '../src/tasks/clap.js';
import type { Section } from './sections.js';
import { fmt, timeCpu, timeIt, timeOnce } from './util.js';

/** msclap on this machine (../shared/fixtures/README.md): PyTorch 1.13, 2 threads, full-size shapes. */
export const MSCLAP = { audioClipsPerS_b1: 1 / 0.36, audioClipsPerS_b8: 8 / 3.6, text10LabelsS: 1.9, captionS: 92 };

export const LABELS = ['dog', 'rooster', 'pig', 'cow', 'frog', 'cat', 'hen', 'insects', 'sheep', 'crow'];

let cached: Map<string, import('../src/engine/index.js').HostTensor> | undefined;
/** Full-size CLAP 2023 shapes, random weights (built once per bench run; `clap random-weights --model 2023` writes the same). */
export function fullSizeWeights(): Map<string, import('../src/engine/index.js').HostTensor> {
  cached ??= randomWeights({ model: '2023' }).stateDict;
  return cached;
}

/** The same weights as a checkpoint file (`CHECKPOINT`), written by `clap random-weights`'s code once per machine. */
export async function fullSizeCheckpoint(): Promise<string> {
  if (!existsSync(CHECKPOINT)) await writeRandomWeights(CHECKPOINT, { model: '2023' });
  return CHECKPOINT;
}
export const CHECKPOINT = join(tmpdir(), 'clap-ts-bench-clap2023-random-v1.pth');

let clapPromise: Promise<Clap> | undefined;
export function fullSizeClap(): Promise<Clap> {
  clapPromise ??= Clap.load({ weights: fullSizeWeights(), config: { ...CLAP_2023 } });
  return clapPromise;
}

const weightsSection: Section = {
  name: 'weights: load a full-size CLAP 2023 checkpoint (.pth)',
  async run(result, rows) {
    const path = await fullSizeCheckpoint();
    const child = fileURLToPath(new URL('./load-child.ts', import.meta.url));
    const r = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', child, path], { encoding: 'utf8' })) as {
      ms: number;
      tensors: number;
      baseRssMb: number;
      peakRssMb: number;
    };
    const mb = statSync(path).size / 1e6;
    result.weights_load_s = r.ms / 1000;
    result.weights_load_peak_rss_mb = r.peakRssMb;
    result.weights_file_mb = mb;
    rows.push({
      what: 'checkpoint load (.pth, full-size)',
      value:
        `${fmt(r.ms / 1000)} s for ${mb.toFixed(0)} MB, ${r.tensors} tensors; ` +
        `peak RSS ${r.peakRssMb.toFixed(0)} MB (${(r.peakRssMb / mb).toFixed(2)}x file, Node itself ${r.baseRssMb.toFixed(0)} MB)`,
    });
  },
};

const frontendSection: Section = {
  name: 'audio frontend: decode + resample + log-mel',
  async run(result, rows) {
    const cpuPerClip: Record<string, number> = {};
    for (const sr of [44100, 48000]) {
      const wav = synthWav(sr, 7);
      const t = await timeCpu(() => audioToLogMel(wav), 9, 2);
      result[`frontend_ms_${sr}`] = t.wall * 1000;
      cpuPerClip[sr] = t.cpu;
      rows.push({ what: `frontend, 7 s WAV at ${sr} Hz (ms)`, value: `${fmt(t.wall * 1000)} wall, ${fmt(t.cpu * 1000)} CPU` });
    }
    result.frontend_cpu_s_per_clip = cpuPerClip;
  },
};

const audioSection: Section = {
  name: 'audio encoder: HTSAT + projection, full-size shapes',
  async run(result, rows, { peak, peakPerCpuS }) {
    const clap = await fullSizeClap();
    const flops = countFlops(buildAudioEncoderGraph(fullSizeWeights(), clap.config), { B: 1 });
    const { logmels } = await audioToLogMel(synthWav(44100, 7));
    const perClip: Record<string, number> = {};
    const cpuPerClip: Record<string, number> = {};
    for (const b of [1, 4, 8]) {
      const batch = Array.from({ length: b }, () => logmels[0]);
      const t = await timeCpu(() => clap.embedLogMels(batch, b), b === 1 ? 7 : 3, 1);
      perClip[`b${b}`] = b / t.wall;
      cpuPerClip[`b${b}`] = t.cpu / b;
    }
    const frontendMs = (result.frontend_ms_44100 as number | undefined) ?? 0;
    const encoderMs = 1000 / perClip.b1;
    result.audio_gflops_per_clip = flops / 1e9;
    result.audio_clips_per_s = perClip;
    result.audio_efficiency = (perClip.b8 * flops) / 1e9 / peak;
    result.audio_cpu_s_per_clip = cpuPerClip;
    // GFLOP per CPU-second against the peak's: holds when other processes take cores (wall time does not).
    result.audio_efficiency_cpu = flops / 1e9 / cpuPerClip.b8 / peakPerCpuS;
    result.frontend_share = frontendMs / (frontendMs + encoderMs);
    rows.push({ what: 'audio model FLOPs per 7 s clip (GFLOP)', value: fmt(flops / 1e9) });
    for (const b of ['b1', 'b4', 'b8']) {
      const ref = b === 'b1' ? MSCLAP.audioClipsPerS_b1 : MSCLAP.audioClipsPerS_b8;
      rows.push({
        what: `audio clips/s, batch ${b.slice(1)}`,
        value:
          `${fmt(perClip[b])} (${fmt((perClip[b] * flops) / 1e9)} GFLOP/s = ${fmt((100 * perClip[b] * flops) / 1e9 / peak)}% of peak, ` +
          `per CPU-s ${fmt((100 * flops) / 1e9 / cpuPerClip[b] / peakPerCpuS)}%; ${fmt(cpuPerClip[b])} CPU-s/clip; ` +
          `msclap ${fmt(ref)}, ${fmt(perClip[b] / ref)}x)`,
      });
    }
    rows.push({ what: 'frontend share of file→embedding time, batch 1', value: `${fmt(100 * (result.frontend_share as number))}%` });
  },
};

const calibrationSection: Section = {
  name: 'calibration: batch and threads chosen for this CPU (full-size checkpoint, empty model cache)',
  async run(result, rows) {
    const path = await fullSizeCheckpoint();
    const cacheDir = mkdtempSync(join(tmpdir(), 'clap-bench-calibration-'));
    try {
      const load = () => Clap.load({ weights: path, config: '2023', cacheDir });
      const clap = await load();
      await clap.embedLogMels([new Float32Array(965 * 64)], 1); // compiles (and stores) the encoder first
      const t = await timeOnce(() => clap.audioBatch());
      const c = clap.audioCalibration!;
      await clap.release();
      const again = await load();
      const reuse = await timeOnce(() => again.audioBatch());
      await again.release();
      const per = c.probes.map((p) => `b${p.batch} ${fmt(p.wall / p.items)} s / ${fmt(p.cpu / p.items)} CPU-s`).join(', ');
      const threads = c.threadProbes
        ? `; at b1 ORT default ${fmt(c.threadProbes.default.wall)} s vs 1 thread ${fmt(c.threadProbes.one.wall)} s`
        : ' (not compared: threads given, busy machine or small model)';
      result.calibration = { ...c, seconds: t.wall, cpu_seconds: t.cpu, reuse_seconds: reuse.wall };
      rows.push({
        what: 'calibrated audio batch / threads',
        value: `batch ${c.batch}, threads ${c.threads ?? 'ORT default'} (by ${c.metric} s per clip: ${per}${threads})`,
      });
      rows.push({ what: 'calibration cost (s)', value: `${fmt(t.wall)} wall, ${fmt(t.cpu)} CPU once; ${fmt(reuse.wall)} when kept` });
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  },
};

const textSection: Section = {
  name: 'text encoder: 10 labels, full-size GPT-2',
  async run(result, rows) {
    const clap = await fullSizeClap();
    const texts = LABELS.map((l) => `this is the sound of ${l}`);
    const s = await timeIt(() => clap.embedText(texts), 9, 2);
    result.text_ms_10_labels = s * 1000;
    rows.push({
      what: 'text, 10 labels after warm-up (ms)',
      value: `${fmt(s * 1000)} (msclap ${MSCLAP.text10LabelsS * 1000} ms, ${fmt(MSCLAP.text10LabelsS / s)}x)`,
    });
  },
};

export const modelSections: Section[] = [weightsSection, frontendSection, audioSection, calibrationSection, textSection];
