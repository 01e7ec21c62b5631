/**
 * Gradient rules, registered per op (as tfjs-core registers kernels' gradients). Rules live apart from the ops'
 * forward definitions because they build ops of every family (a Concat rule slices, a MatMul rule reduces):
 * keeping them beside the forward code made the op modules import each other in a cycle.
 */
import type { OpDef, VjpRule } from '../graph.js';

const rules = new Map<OpDef, VjpRule>();

export function defineGradient(op: OpDef, rule: VjpRule): void {
  if (rules.has(op)) throw new Error(`a gradient rule for ${op.type} is already defined`);
  rules.set(op, rule);
}

/** The rule of `op`, or undefined when it has none (autodiff then names the op on the path). */
export function gradientOf(op: OpDef): VjpRule | undefined {
  return rules.get(op);
}

/** Whether input `i` wants a gradient (autodiff passes `needs`; absent means every input does). */
export const wants = (needs: readonly boolean[] | undefined, i: number): boolean => needs?.[i] !== false;
