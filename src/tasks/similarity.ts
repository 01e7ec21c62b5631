/**
 * Cosine similarity of embeddings on the host, the one implementation every caller uses (`Clap.similarity`,
 * training metrics): msclap's compute_similarity without the logit scale. Accumulates in float64; a zero
 * vector has similarity 0 with everything (msclap would divide by zero).
 */
import { ClapError } from '../errors.js';

/** v / ‖v‖₂ in float64 (a zero vector stays zero). */
export function normalized(v: ArrayLike<number>): Float64Array {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s) || 1;
  return Float64Array.from(v as ArrayLike<number>, (x) => x / n);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Cosine similarity of every row of `a` with every row of `b`: [a.length][b.length]. */
export function cosineMatrix(a: readonly ArrayLike<number>[], b: readonly ArrayLike<number>[]): number[][] {
  const na = a.map(normalized);
  const nb = b.map(normalized);
  const dims = new Set([...na, ...nb].map((v) => v.length));
  if (dims.size > 1) throw new ClapError(`embeddings of different sizes (${[...dims].join(', ')} values)`);
  return na.map((x) => nb.map((y) => dot(x, y)));
}

/** Cosine similarity of two vectors. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  return cosineMatrix([a], [b])[0][0];
}
