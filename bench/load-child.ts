/** Child process of the weights bench: loads one checkpoint and reports time and peak RSS. */
import { readFileSync } from 'node:fs';
import { loadWeights } from '../src/weights/index.js';

/** Peak RSS of this process image (VmHWM resets at exec, unlike getrusage's maxrss which a fork inherits). */
function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

const path = process.argv[2];
const base = peakRssMb();
const t0 = performance.now();
const sd = await loadWeights(path);
const ms = performance.now() - t0;
process.stdout.write(`${JSON.stringify({ ms, tensors: sd.size, baseRssMb: base, peakRssMb: peakRssMb() })}\n`);
