import { loadavg } from 'node:os';
import { cpuInfo } from '../src/engine/cpu.js';
import { exactInt8Weights } from '../src/engine/quant.js';
import { fmt } from './util.js';
import { matmulPeakMeter, plainMatmulGflops, type PeakSample } from './matmul.js';

/**
 * `npm run bench [-- --json] [-- --only=text,caption]`: every figure is measured in this run, so ratios compare
 * like with like; --only runs just the sections whose names contain one of the words.
 * Sections register their results into one flat JSON object (keys are a contract, see issue #9).
 *
 * On a busy machine: the MatMul peak is measured again before every section and the best sample of the run
 * is the peak (a peak measured once, while another process held a core, once made the encoder look faster
 * than the peak); CPU seconds are reported beside wall time; a load average above the core count marks
 * the run (`busy`), whose wall-clock figures are then not to be trusted.
 */
interface Row {
  what: string;
  value: string;
}

async function run(): Promise<void> {
  const json = process.argv.includes('--json');
  const result: Record<string, unknown> = {};
  const rows: Row[] = [];
  const log = (msg: string): void => {
    if (!json) process.stderr.write(`${msg}\n`);
  };

  const cpu = cpuInfo();
  const int8Weights = await exactInt8Weights();
  const int8Kernel =
    int8Weights === 'int8' ? `u8×s8 ${cpu.kernels.u8s8}` : `u8×u8 ${cpu.kernels.u8u8}; u8×s8 would saturate (${cpu.kernels.u8s8})`;
  result.cpu = { ...cpu, int8_weights: int8Weights };
  rows.push({ what: 'CPU', value: `${cpu.model}, ${cpu.cores} cores, ${cpu.arch} ${cpu.isa}` });
  rows.push({ what: 'ORT kernels (MLAS)', value: `fp32 GEMM ${cpu.kernels.fp32}; --precision int8: ${int8Kernel}` });

  const loads: number[] = [];
  const sampleLoad = (): void => void loads.push(loadavg()[0]);
  sampleLoad();

  log('matmul: engine (1024^3 x4 chain) vs plain TypeScript loop…');
  const meter = await matmulPeakMeter();
  const peaks: PeakSample[] = [];
  const best = (): PeakSample => ({
    gflops: Math.max(...peaks.map((p) => p.gflops)),
    gflopsPerCpuS: Math.max(...peaks.map((p) => p.gflopsPerCpuS)),
  });
  peaks.push(await meter.measure());
  const plain = await plainMatmulGflops();

  const onlyArg = process.argv.find((a) => a.startsWith('--only='));
  const only = onlyArg ? onlyArg.slice('--only='.length).split(',').filter(Boolean) : [];
  for (const section of (await import('./sections.js')).sections) {
    if (only.length && !only.some((o) => section.name.includes(o))) continue;
    log(`${section.name}…`);
    sampleLoad();
    peaks.push(await meter.measure()); // right before the section: both see the same machine
    const peak = best();
    try {
      await section.run(result, rows, { peak: peak.gflops, peakPerCpuS: peak.gflopsPerCpuS });
    } catch (e) {
      rows.push({ what: section.name, value: `failed: ${(e as Error).message}` });
    }
  }
  sampleLoad();
  await meter.release();

  const peak = best();
  result.matmul_peak_gflops = peak.gflops;
  result.matmul_peak_gflops_per_cpu_s = peak.gflopsPerCpuS;
  result.matmul_peak_samples = peaks.map((p) => p.gflops);
  result.plain_ts_matmul_gflops = plain;
  const load = Math.max(...loads);
  result.load_average_max = load;
  result.busy = load > cpu.cores;
  rows.splice(
    2,
    0,
    {
      what: 'MatMul peak, engine (GFLOP/s)',
      value: `${fmt(peak.gflops)} (best of ${peaks.length}, one before each section; ${fmt(peak.gflopsPerCpuS)} per CPU-second)`,
    },
    { what: 'MatMul, plain TS loop (GFLOP/s)', value: `${fmt(plain)} (engine ${fmt(peak.gflops / plain)}x)` },
    {
      what: 'load average (1 min, highest seen)',
      value: result.busy
        ? `${fmt(load)} > ${cpu.cores} cores: BUSY machine, wall-clock figures unreliable (CPU-second figures hold)`
        : `${fmt(load)} (≤ ${cpu.cores} cores)`,
    },
  );

  const w = Math.max(...rows.map((r) => r.what.length));
  const table = `${rows.map((r) => `${r.what.padEnd(w)}  ${r.value}`).join('\n')}\n`;
  if (json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    // The table too, on stderr (one run gives both); CLAP_BENCH_TABLE=path writes it to a file.
    if (process.env.CLAP_BENCH_TABLE) (await import('node:fs')).writeFileSync(process.env.CLAP_BENCH_TABLE, table);
  } else {
    process.stdout.write(table);
  }
}

await run();
