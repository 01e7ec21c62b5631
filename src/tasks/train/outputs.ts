/** What every training run writes into its output folder: the JSONL log, weights, summary.json. */
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { savePth, saveSafetensors, type StateDictLike } from '../../weights/index.js';

export type RunLogger = (entry: Record<string, unknown>) => void;

/** Appends one JSON object per line to `file` (started empty unless `resume`). */
export function jsonlLogger(file: string, resume = false): RunLogger {
  if (!resume) writeFileSync(file, '');
  return (entry) => appendFileSync(file, `${JSON.stringify(entry)}\n`);
}

/** Writes `<stem>.pth` (official key layout) and `<stem>.safetensors`; returns the .pth path. */
export async function saveWeights(out: string, stem: string, sd: StateDictLike): Promise<string> {
  const file = join(out, `${stem}.pth`);
  await savePth(file, sd);
  await saveSafetensors(join(out, `${stem}.safetensors`), sd);
  return file;
}

/** Logs the end of the run and writes summary.json. */
export function finishRun<S extends object>(out: string, log: RunLogger, summary: S): S {
  log({ type: 'end', ...summary });
  writeFileSync(join(out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Number of values in the trainable parameters (for logs and summaries). */
export function parameterCount(params: readonly { shape: readonly (number | string)[] }[]): number {
  return params.reduce((sum, p) => sum + (p.shape as number[]).reduce((a, b) => a * b, 1), 0);
}
