import type { Attrs, Graph, OpDef, TypeInfo, Value } from '../graph.js';
import type { DType } from '../tensor.js';
import { broadcastShapes } from '../shape.js';

/** A tensor or a plain number (turned into a scalar constant of the other operand's dtype). */
export type Operand = Value | number;

export function graphOf(...xs: Operand[]): Graph {
  for (const x of xs) if (typeof x !== 'number') return x.graph;
  throw new Error('an op needs at least one tensor operand');
}

export function lift(x: Operand, like: Value): Value {
  return typeof x === 'number' ? like.graph.scalar(x, like.dtype) : x;
}

export function liftPair(a: Operand, b: Operand): [Value, Value] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error('an op needs at least one tensor operand');
  const ref = (typeof a === 'number' ? b : a) as Value;
  return [lift(a, ref), lift(b, ref)];
}

export function apply(op: OpDef, inputs: Value[], attrs: Attrs = {}): Value {
  return inputs[0].graph.addNode(op, inputs, attrs)[0];
}

export function applyMulti(op: OpDef, inputs: Value[], attrs: Attrs = {}): Value[] {
  return inputs[0].graph.addNode(op, inputs, attrs);
}

export function sameDtype(inputs: Value[]): DType {
  const d = inputs[0].dtype;
  for (const x of inputs) if (x.dtype !== d) throw new Error(`dtype mismatch: ${inputs.map((v) => v.dtype).join(' vs ')}`);
  return d;
}

/** Shape-preserving op on one input. */
export function unaryOp(type: string, extra: Partial<OpDef> = {}): OpDef {
  return { type, infer: (xs): TypeInfo[] => [{ dtype: xs[0].dtype, shape: [...xs[0].shape] }], ...extra };
}

/** Broadcasting op on two inputs of one dtype; `outDtype` for comparisons. */
export function binaryOp(type: string, outDtype?: DType, extra: Partial<OpDef> = {}): OpDef {
  return {
    type,
    infer: (xs): TypeInfo[] => [{ dtype: outDtype ?? sameDtype(xs), shape: broadcastShapes(xs[0].shape, xs[1].shape) }],
    ...extra,
  };
}
