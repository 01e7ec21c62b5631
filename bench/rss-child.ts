/**
 * Child process of the memory bench: full-size classify of one file (10 labels), then `files` more
 * files embedded through the pipeline; prints peak RSS (VmHWM) after each stage as JSON.
 */
import { readFileSync } from 'node:fs';
import { Clap } from '../src/tasks/clap.js';

function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

const [weights, one, ...many] = process.argv.slice(2);
// Labels unique to this process: the text tower is really built (not served from the label-set cache).
const labels = ['dog', 'rooster', 'pig', 'cow', 'frog', 'cat', 'hen', 'insects', 'sheep', 'crow'].map((l) => `${l} ${process.pid}`);
const clap = await Clap.load({ weights, config: '2023' });
await clap.classify([one], labels);
const classify = peakRssMb();
const half = many.slice(0, Math.floor(many.length / 2));
await clap.embedAudio(half);
const afterHalf = peakRssMb();
await clap.embedAudio(many);
const afterAll = peakRssMb();
await clap.release();
process.stdout.write(`${JSON.stringify({ classify, afterHalf, afterAll, halfFiles: half.length, allFiles: many.length })}\n`);
