/**
 * Reverse-mode automatic differentiation over the tracing IR: the gradient is more graph, built from
 * each op's registered gradient rule (engine/grads/), so forward and backward compile into one ONNX model.
 */
import type { Graph, Node, Value } from './graph.js';
import { ones, zerosLike } from './ops/broadcast.js';
import { sum } from './ops/elementwise.js';
import { dimEq, shapeToString } from './shape.js';
import { isFloatDtype } from './tensor.js';
import { gradientOf } from './grads/index.js';

export interface GradOptions {
  /**
   * The cotangent of `output` (same shape), for vector-Jacobian products of non-scalar outputs.
   * Default: ones, which requires `output` to have a single element.
   */
  seed?: Value;
  /** What to return for a `wrt` the output does not depend on: zeros (default) or undefined. */
  unused?: 'zeros' | 'undefined';
}

/**
 * Gradients of the scalar `loss` with respect to each of `wrt` (parameters, inputs or intermediate
 * values of the same graph), as new values in that graph. Paths through integer or boolean tensors
 * carry no gradient; an op on a differentiable path without a `vjp` rule is an error.
 */
export function grad(loss: Value, wrt: Value[]): Value[];
export function grad(loss: Value, wrt: Value[], options: GradOptions & { unused: 'undefined' }): (Value | undefined)[];
export function grad(loss: Value, wrt: Value[], options?: GradOptions): Value[];
export function grad(loss: Value, wrt: Value[], options: GradOptions = {}): (Value | undefined)[] {
  const graph = loss.graph;
  for (const w of wrt) {
    if (w.graph !== graph) throw new Error(`grad: ${w.name} belongs to another graph`);
    if (!isFloatDtype(w.dtype)) throw new Error(`grad: cannot differentiate with respect to ${w} (not floating point)`);
  }
  if (!isFloatDtype(loss.dtype)) throw new Error(`grad: the output ${loss} is not floating point`);
  let seed = options.seed;
  if (seed) {
    if (
      seed.graph !== graph ||
      seed.dtype !== loss.dtype ||
      seed.rank !== loss.rank ||
      !seed.shape.every((d, i) => dimEq(d, loss.shape[i]))
    ) {
      throw new Error(`grad: seed ${seed} does not match ${loss}`);
    }
  } else {
    if (!loss.shape.every((d) => d === 1)) {
      throw new Error(`grad: the loss ${loss} must have one element (reduce it, or pass a seed cotangent)`);
    }
    seed = ones(graph, loss.shape as number[], loss.dtype);
  }

  const nodes = graph.nodes.slice(0, indexOfProducer(graph, loss) + 1);
  const active = activeValues(nodes, wrt, loss);
  const grads = new Map<Value, Value[]>([[loss, [seed]]]);
  const total = (v: Value): Value | undefined => {
    const parts = grads.get(v);
    if (!parts || parts.length === 0) return undefined;
    const s = parts.length === 1 ? parts[0] : sum(parts);
    grads.set(v, [s]);
    return s;
  };

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!node.outputs.some((y) => grads.has(y))) continue;
    const needs = node.inputs.map((x) => active.has(x));
    if (!needs.some(Boolean)) continue;
    const outGrads = node.outputs.map(total);
    const rule = gradientOf(node.op);
    if (!rule) {
      throw new Error(
        `grad: no gradient rule for ${node.op.type} (${describe(node)}) on the path from ${wrt
          .filter((w) => active.has(w))
          .map((w) => w.name)
          .join(', ')} to ${loss.name}`,
      );
    }
    let inGrads: (Value | undefined)[];
    try {
      inGrads = rule(node, outGrads, needs);
    } catch (e) {
      throw new Error(`grad: the ${node.op.type} rule failed (${describe(node)}): ${(e as Error).message}`);
    }
    node.inputs.forEach((x, k) => {
      const gx = inGrads[k];
      if (!needs[k] || !gx) return;
      if (gx.dtype !== x.dtype || gx.rank !== x.rank || !gx.shape.every((d, j) => dimEq(d, x.shape[j]))) {
        throw new Error(
          `grad: the ${node.op.type} rule gave ${gx.dtype}${shapeToString(gx.shape)} for input ${k} ${x} (${describe(node)})`,
        );
      }
      const list = grads.get(x);
      if (list) list.push(gx);
      else grads.set(x, [gx]);
    });
  }

  return wrt.map((w) => {
    const g = total(w);
    if (g) return g;
    return options.unused === 'undefined' ? undefined : zerosLike(w);
  });
}

/** Which of `wrt` the value `of` depends on through differentiable (floating-point) paths. */
export function dependsOn(of: Value, wrt: Value[]): boolean[] {
  const nodes = of.graph.nodes.slice(0, indexOfProducer(of.graph, of) + 1);
  return wrt.map((w) => activeValues(nodes, [w], of).has(w));
}

function indexOfProducer(graph: Graph, v: Value): number {
  if (!v.producer) return -1;
  const i = graph.nodes.lastIndexOf(v.producer);
  if (i < 0) throw new Error(`grad: ${v.name}'s producer is not in its graph`);
  return i;
}

/**
 * Values on a differentiable path from some `wrt` to `target`: floating-point values that depend on a
 * `wrt` (forward sweep) and that `target` depends on (backward sweep).
 */
function activeValues(nodes: Node[], wrt: Value[], target: Value): Set<Value> {
  const fromWrt = new Set<Value>(wrt);
  for (const n of nodes) {
    if (!n.inputs.some((x) => fromWrt.has(x))) continue;
    for (const y of n.outputs) if (isFloatDtype(y.dtype)) fromWrt.add(y);
  }
  const active = new Set<Value>();
  if (!fromWrt.has(target)) return active;
  active.add(target);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const n = nodes[i];
    if (!n.outputs.some((y) => active.has(y))) continue;
    for (const x of n.inputs) if (fromWrt.has(x)) active.add(x);
  }
  return active;
}

function describe(node: Node): string {
  return `${node.inputs.map(String).join(', ')} -> ${node.outputs.map(String).join(', ')}`;
}
