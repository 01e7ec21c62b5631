/**
 * Zero-shot classification on embeddings, shared by the library (tasks/clap.ts) and the browser build:
 * prompts from labels, msclap's similarity scale, and scores across labels. No model code, no I/O.
 */
import { ClapError } from '../errors.js';
import type { ClapFamily } from '../models/clap/family.js';
import { cosineMatrix } from './similarity.js';

/** msclap's zero-shot prompt. */
export const DEFAULT_TEMPLATE = 'this is the sound of ';

/** transformers' zero-shot-audio-classification pipeline's `hypothesis_template`, which LAION's models are shown with. */
export const HF_TEMPLATE = 'This is a sound of {}.';

/** The prompt a family's reference classifies with: Hugging Face's pipeline for its CLAP models, msclap's otherwise. */
export function defaultTemplate(family: ClapFamily): string {
  return family === 'hf-clap' ? HF_TEMPLATE : DEFAULT_TEMPLATE;
}

export interface Classification {
  input: string;
  /** label → probability, in the order of the labels given. */
  scores: Record<string, number>;
}

/** The prompt for `label`: '{}' in `template` is replaced by it; without '{}' it is appended. */
export function applyTemplate(template: string, label: string): string {
  return template.includes('{}') ? template.split('{}').join(label) : template + label;
}

/** Labels must be non-empty, distinct strings: one-line errors otherwise. */
export function checkLabels(labels: readonly string[]): void {
  if (labels.length === 0) throw new ClapError('no labels given');
  const seen = new Set<string>();
  for (const l of labels) {
    if (l.trim() === '') throw new ClapError('a label is empty');
    if (seen.has(l)) throw new ClapError(`label '${l}' is given twice`);
    seen.add(l);
  }
}

/** Softmax across labels, or a sigmoid per label for multi-label tasks. */
export function scoreLabels(similarity: number[][], labels: readonly string[], multiLabel: boolean): Record<string, number>[] {
  return similarity.map((row) => {
    let probs: number[];
    if (multiLabel) probs = row.map((s) => 1 / (1 + Math.exp(-s)));
    else {
      const m = Math.max(...row);
      const e = row.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      probs = e.map((v) => v / z);
    }
    return Object.fromEntries(labels.map((l, j) => [l, probs[j]]));
  });
}

/** msclap's compute_similarity: cosine similarity × exp(logit_scale) (`logitScale`, already exponentiated), [audio][text]. */
export function scaledSimilarity(audio: readonly Float32Array[], text: readonly Float32Array[], logitScale: number): number[][] {
  if (Number.isNaN(logitScale)) throw new ClapError('these weights have no logit_scale (a clapcap file?): use CLAP weights for similarity');
  return cosineMatrix(audio, text).map((row) => row.map((c) => logitScale * c));
}
