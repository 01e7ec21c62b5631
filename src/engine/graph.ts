import type { DType, HostTensor } from './tensor.js';
import { type Dim, type Shape, shapeToString } from './shape.js';

/** An ONNX attribute value, tagged so ints and floats stay distinct in the emitted graph. */
export type Attr =
  | { i: number }
  | { f: number }
  | { s: string }
  | { ints: number[] }
  | { floats: number[] }
  | { t: HostTensor }
  | { graph: Subgraph };

/** A body graph attribute (Scan, Loop, If): a separate Graph with its own inputs and outputs. */
export interface Subgraph {
  graph: Graph;
  inputs: Value[];
  outputs: Value[];
}
export type Attrs = Record<string, Attr>;

export interface TypeInfo {
  dtype: DType;
  shape: Shape;
}

/**
 * Vector-Jacobian rule: given the node and the gradients of its outputs (undefined = zero), the
 * gradients of its inputs (undefined = zero / not differentiable). Rules build ordinary ops in the
 * node's graph. `needs[i]` says whether input i wants a gradient at all (autodiff passes it; a rule
 * may skip work for the others, and must not fail on inputs it cannot differentiate when not needed).
 */
export type VjpRule = (node: Node, outputGrads: (Value | undefined)[], needs?: readonly boolean[]) => (Value | undefined)[];

/** An operator: its ONNX identity and shape/dtype inference (its gradient rule, if any, is registered in engine/grads/). */
export interface OpDef {
  type: string;
  domain?: string;
  /** Minimum ONNX opset of the default domain this op's encoding needs. */
  opset?: number;
  infer(inputs: Value[], attrs: Attrs): TypeInfo[];
  /**
   * Emission-time lowering: replacement outputs built with ordinary ops from `node.inputs` (and
   * constants) only, or undefined to emit the node as-is. Used where the runtime lacks a kernel
   * (e.g. Erf in float64) and where the target opset predates the op's encoding (Gelu before opset 20).
   * Autodiff never sees the lowering: gradients use the op's own registered rule.
   */
  lower?: (node: Node, target: EmitTarget) => Value[] | undefined;
}

/** What an emitted model declares: the default-domain opset it must run under. */
export interface EmitTarget {
  opset: number;
}

export type ValueKind = 'input' | 'param' | 'constant' | 'node';

/** A symbolic tensor in a traced graph. */
export class Value {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly kind: ValueKind,
    readonly producer?: Node,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}:${this.dtype}${shapeToString(this.shape)}`;
  }
}

export interface Node {
  op: OpDef;
  inputs: Value[];
  outputs: Value[];
  attrs: Attrs;
}

/**
 * A traced computation. Model code calls ops on Values; each call appends a Node with inferred
 * output shapes. Parameters are named tensors that become ONNX initializers (inference) or graph
 * inputs (training); constants always become initializers.
 */
export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: { name: string; value: Value }[] = [];
  readonly params = new Map<string, { value: Value; tensor: HostTensor }>();
  readonly constants = new Map<string, { value: Value; tensor: HostTensor }>();
  private counter = 0;
  private readonly scalarCache = new Map<string, Value>();

  /** `namePrefix` keeps a body graph's generated names apart from its parent's (ONNX forbids shadowing). */
  constructor(
    readonly name = 'clap_ts',
    readonly namePrefix = '',
  ) {}

  private fresh(prefix: string): string {
    return `${this.namePrefix}${prefix}${this.counter++}`;
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    if (this.inputs.some((v) => v.name === name)) throw new Error(`duplicate graph input ${name}`);
    const v = new Value(this, name, dtype, [...shape], 'input');
    this.inputs.push(v);
    return v;
  }

  /** A named weight. Re-registering the same name returns the same Value (weights are shared, not copied). */
  param(name: string, tensor: HostTensor): Value {
    const existing = this.params.get(name);
    if (existing) return existing.value;
    const v = new Value(this, name, tensor.dtype, [...tensor.shape], 'param');
    this.params.set(name, { value: v, tensor });
    return v;
  }

  constant(tensor: HostTensor, hint = 'const'): Value {
    const name = this.fresh(`${hint}_`);
    const v = new Value(this, name, tensor.dtype, [...tensor.shape], 'constant');
    this.constants.set(name, { value: v, tensor });
    return v;
  }

  /** A rank-0 constant, cached per (value, dtype). */
  scalar(x: number, dtype: DType = 'float32'): Value {
    const key = `${dtype}:${Object.is(x, -0) ? '-0' : x}`;
    let v = this.scalarCache.get(key);
    if (!v) {
      v = this.constant(scalarTensor(x, dtype), 'scalar');
      this.scalarCache.set(key, v);
    }
    return v;
  }

  /** A rank-1 int64 constant (shapes, axes, indices). */
  ints(values: readonly number[]): Value {
    return this.constant({ dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values, (x) => BigInt(x)) }, 'ints');
  }

  addNode(op: OpDef, inputs: Value[], attrs: Attrs = {}): Value[] {
    for (const x of inputs) {
      if (x.graph !== this) throw new Error(`${op.type}: input ${x.name} belongs to another graph`);
    }
    let infos: TypeInfo[];
    try {
      infos = op.infer(inputs, attrs);
    } catch (e) {
      throw new Error(`${op.type}(${inputs.map(String).join(', ')}): ${(e as Error).message}`);
    }
    const node: Node = { op, inputs, attrs, outputs: [] };
    node.outputs = infos.map((t) => new Value(this, this.fresh('v'), t.dtype, t.shape, 'node', node));
    this.nodes.push(node);
    return node.outputs;
  }

  output(name: string, value: Value): void {
    if (this.outputs.some((o) => o.name === name)) throw new Error(`duplicate graph output ${name}`);
    this.outputs.push({ name, value });
  }
}

export function scalarTensor(x: number, dtype: DType): HostTensor {
  switch (dtype) {
    case 'float32':
      return { dtype, shape: [], data: Float32Array.of(x) };
    case 'float64':
      return { dtype, shape: [], data: Float64Array.of(x) };
    case 'int64':
      return { dtype, shape: [], data: BigInt64Array.of(BigInt(x)) };
    case 'int32':
      return { dtype, shape: [], data: Int32Array.of(x) };
    case 'bool':
      return { dtype, shape: [], data: Uint8Array.of(x ? 1 : 0) };
    default:
      throw new Error(`no scalar constants of dtype ${dtype}`);
  }
}

export type { Dim, Shape };
