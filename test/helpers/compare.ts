/** The numeric comparisons the tests make against reference outputs (msclap fixtures, other runs). */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

export { cosine } from '../../src/tasks/similarity.js';

/** max |a[i]| (0 when empty). */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** max |actual[i] − expected[i]| over the indices `mask` keeps (all by default); NaN propagates. */
export function maxAbsError(actual: ArrayLike<number>, expected: ArrayLike<number>, mask?: (i: number) => boolean): number {
  assert.equal(actual.length, expected.length, 'length');
  let err = 0;
  for (let i = 0; i < actual.length; i++) {
    if (mask && !mask(i)) continue;
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= err)) err = d; // NaN propagates
  }
  return err;
}

/** max |actual − expected| / max |expected|: the fixtures' error measure. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  return maxAbsError(actual, expected) / maxAbs(expected);
}

/**
 * Asserts max |actual − expected| ≤ tol × max |expected|, logging the figures as a diagnostic of
 * `t` when given; returns the ratio.
 */
export function assertRelClose(
  t: Pick<TestContext, 'diagnostic'> | undefined,
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol = 1e-4,
): number {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const err = maxAbsError(actual, expected);
  const mag = maxAbs(expected);
  const rel = err / mag;
  t?.diagnostic(`${what}: max abs err ${err.toExponential(2)}, max |ref| ${mag.toPrecision(4)}, ratio ${rel.toExponential(2)}`);
  assert.ok(rel <= tol, `${what}: max abs error ${err} > ${tol} × ${mag}`);
  return rel;
}
