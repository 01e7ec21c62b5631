import type { Attr, EmitTarget, Graph, Node, Value } from '../graph.js';
import type { DType, HostTensor } from '../tensor.js';
import { Message } from './protobuf.js';

/** The default-domain opset emitted models declare unless asked for another, and its IR version. */
export const OPSET = 21;
export const IR_VERSION = 10;
/** The oldest opset the ops can be written for (LayerNormalization is opset 17). */
export const MIN_OPSET = 17;

/**
 * The IR version that goes with an opset: the one of the ONNX release that introduced it (1.12: IR 8 /
 * opset 17, 1.13: 8 / 18, 1.14: 9 / 19, 1.15: 9 / 20, 1.16: 10 / 21), so that a tool which reads the
 * opset also reads the file (Debian 12's onnx 1.12 refuses IR 9 and above).
 */
export function irVersionFor(opset: number): number {
  checkOpset(opset);
  return opset >= 21 ? 10 : opset >= 19 ? 9 : 8;
}

function checkOpset(opset: number): void {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > OPSET) {
    throw new RangeError(`opset must be an integer from ${MIN_OPSET} to ${OPSET}, got ${opset}`);
  }
}

const ONNX_DTYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};

export interface EmitOptions {
  /**
   * Emit parameters as graph inputs instead of initializers (training: they change every step).
   * A predicate selects which ones (the rest stay initializers, e.g. frozen weights).
   */
  paramsAsInputs?: boolean | ((name: string) => boolean);
  /** Graph inputs to declare instead of `graph.inputs` (the Values need not be registered with the graph). */
  inputs?: readonly Value[];
  /** Outputs to emit instead of `graph.outputs`. */
  outputs?: readonly { name: string; value: Value }[];
  producer?: string;
  /** key → value pairs stored in the model's metadata_props. */
  metadata?: Record<string, string>;
  /** Default-domain opset to write (MIN_OPSET…OPSET, default OPSET); ops newer than it are lowered or refused. */
  opset?: number;
}

/** Serialises a traced graph into an ONNX ModelProto. */
export function emitOnnx(graph: Graph, options: EmitOptions = {}): Uint8Array {
  const pai = options.paramsAsInputs;
  const asInput = typeof pai === 'function' ? pai : () => !!pai;
  const target: EmitTarget = { opset: options.opset ?? OPSET };
  const irVersion = irVersionFor(target.opset);
  const domains = new Set<string>();
  const g = graphProto(graph, options.inputs ?? graph.inputs, options.outputs ?? graph.outputs, asInput, domains, target);

  const m = new Message();
  m.int(1, irVersion);
  m.string(2, options.producer ?? 'clap-ts');
  m.message(7, g);
  m.message(8, new Message().string(1, '').int(2, target.opset));
  for (const d of domains) m.message(8, new Message().string(1, d).int(2, 1));
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    m.message(14, new Message().string(1, k).string(2, v));
  }
  return m.toBytes();
}

/** A GraphProto (the main graph or an op's body); custom domains used anywhere inside are added to `domains`. */
function graphProto(
  graph: Graph,
  inputs: readonly Value[],
  outputs: readonly { name: string; value: Value }[],
  asInput: (name: string) => boolean,
  domains: Set<string>,
  target: EmitTarget,
): Message {
  const g = new Message();
  const { nodes: live, rename } = liveNodes(graph, outputs, target);
  const nameOf = (v: Value): string => rename.get(v.name) ?? v.name;
  live.forEach((node, i) => {
    if (node.op.domain) domains.add(node.op.domain);
    else if ((node.op.opset ?? 0) > target.opset) {
      throw new RangeError(`${node.op.type} needs opset ${node.op.opset} or later; this model is written for opset ${target.opset}`);
    }
    g.message(1, nodeProto(node, `${graph.namePrefix}${node.op.type}_${i}`, domains, nameOf, target));
  });
  g.string(2, graph.name);
  const used = usedValues(graph, live);
  for (const [name, { tensor }] of graph.constants) {
    if (used.has(name)) g.message(5, tensorProto(name, tensor));
  }
  for (const [name, { tensor }] of graph.params) {
    if (!asInput(name) && used.has(name)) g.message(5, tensorProto(name, tensor));
  }
  for (const v of inputs) g.message(11, valueInfo(v.name, v));
  for (const [name, { value }] of graph.params) {
    if (asInput(name)) g.message(11, valueInfo(name, value));
  }
  for (const { name, value } of outputs) g.message(12, valueInfo(name, value));
  return g;
}

/**
 * Nodes that contribute to an output, in trace order; nodes whose op lowers themselves are replaced by
 * their lowering (plus Identity renames to the original output names); an output that is itself a graph
 * value is renamed by an Identity.
 */
function liveNodes(
  graph: Graph,
  outputs: readonly { name: string; value: Value }[],
  target: EmitTarget,
): { nodes: Node[]; rename: Map<string, string> } {
  const nodes = graph.nodes.filter(neededFrom(outputs.map((o) => o.value)));
  const out: Node[] = [];
  for (const n of nodes) expandLowered(graph, n, out, target);
  // A node's output is emitted under the graph output's name (so ORT writes it straight into a caller's
  // pre-allocated buffer); inputs, constants and second names of one value go through an Identity.
  const rename = new Map<string, string>();
  const renamed = new Set<Value>();
  for (const { name, value } of outputs) {
    if (value.producer && !renamed.has(value)) {
      renamed.add(value);
      if (name !== value.name) rename.set(value.name, name);
      continue;
    }
    out.push({ op: IDENTITY, inputs: [value], attrs: {}, outputs: [{ name } as Value] });
  }
  return { nodes: out, rename };
}

/** Membership test for the nodes that the given values depend on. */
function neededFrom(values: Value[], within?: Set<Node>): (n: Node) => boolean {
  const needed = new Set<Node>();
  const stack = [...values];
  while (stack.length) {
    const p = stack.pop()!.producer;
    if (p && !needed.has(p) && (!within || within.has(p))) {
      needed.add(p);
      stack.push(...p.inputs);
    }
  }
  return (n) => needed.has(n);
}

interface Lowered {
  nodes: Node[];
  outs: Value[];
}
/** Each node's lowering per target opset (built once: lowering appends nodes to the graph). */
const loweredCache = new WeakMap<Node, Map<number, Lowered | null>>();

function lowering(graph: Graph, node: Node, target: EmitTarget): Lowered | null {
  if (!node.op.lower) return null;
  let byOpset = loweredCache.get(node);
  if (!byOpset) loweredCache.set(node, (byOpset = new Map()));
  let c = byOpset.get(target.opset);
  if (c === undefined) {
    const start = graph.nodes.length;
    const outs = node.op.lower(node, target);
    c = outs ? { nodes: graph.nodes.slice(start), outs } : null;
    if (outs) {
      if (outs.length !== node.outputs.length)
        throw new Error(`${node.op.type}: lowering gave ${outs.length} outputs for ${node.outputs.length}`);
      outs.forEach((v, i) => {
        if (v.dtype !== node.outputs[i].dtype)
          throw new Error(`${node.op.type}: lowering changed dtype ${node.outputs[i].dtype} to ${v.dtype}`);
      });
    }
    byOpset.set(target.opset, c);
  }
  return c;
}

function expandLowered(graph: Graph, node: Node, out: Node[], target: EmitTarget): void {
  const low = lowering(graph, node, target);
  if (!low) {
    out.push(node);
    return;
  }
  const isNeeded = neededFrom(low.outs, new Set(low.nodes));
  for (const n of low.nodes) if (isNeeded(n)) expandLowered(graph, n, out, target);
  low.outs.forEach((v, i) => out.push({ op: IDENTITY, inputs: [v], attrs: {}, outputs: [node.outputs[i]] }));
}

const IDENTITY = { type: 'Identity', infer: () => [] };

function usedValues(graph: Graph, nodes: Node[]): Set<string> {
  const used = new Set<string>();
  for (const n of nodes) for (const x of n.inputs) used.add(x.name);
  void graph;
  return used;
}

function nodeProto(node: Node, nodeName: string, domains: Set<string>, nameOf: (v: Value) => string, target: EmitTarget): Message {
  const m = new Message();
  for (const x of node.inputs) m.string(1, x ? nameOf(x) : '');
  for (const y of node.outputs) m.string(2, nameOf(y));
  m.string(3, nodeName);
  m.string(4, node.op.type);
  for (const [name, a] of Object.entries(node.attrs)) m.message(5, attrProto(name, a, domains, target));
  if (node.op.domain) m.string(7, node.op.domain);
  return m;
}

function attrProto(name: string, a: Attr, domains: Set<string>, target: EmitTarget): Message {
  const m = new Message().string(1, name);
  if ('graph' in a) {
    const { graph, inputs, outputs } = a.graph;
    const body = graphProto(
      graph,
      inputs,
      outputs.map((v) => ({ name: v.name, value: v })),
      () => false,
      domains,
      target,
    );
    return m.message(6, body).int(20, 5);
  }
  if ('i' in a) return m.int(3, a.i).int(20, 2);
  if ('f' in a) return m.float(2, a.f).int(20, 1);
  if ('s' in a) return m.string(4, a.s).int(20, 3);
  if ('ints' in a) return m.packedInts(8, a.ints).int(20, 7);
  if ('floats' in a) return m.packedFloats(7, a.floats).int(20, 6);
  return m.message(5, tensorProto('', a.t)).int(20, 4);
}

export function tensorProto(name: string, t: HostTensor): Message {
  const m = new Message();
  for (const d of t.shape) m.int(1, d);
  m.int(2, ONNX_DTYPE[t.dtype]);
  if (name) m.string(8, name);
  m.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return m;
}

function valueInfo(name: string, v: Value): Message {
  const shape = new Message();
  for (const d of v.shape) {
    const dim = new Message();
    // Only plain symbols are named: ORT checks named dims for consistency, products ("64*B") are left free.
    if (typeof d === 'number') dim.int(1, d);
    else if (/^[A-Za-z_]\w*$/.test(d)) dim.string(2, d);
    shape.message(1, dim);
  }
  const tensorType = new Message().int(1, ONNX_DTYPE[v.dtype]).message(2, shape);
  return new Message().string(1, name).message(2, new Message().message(1, tensorType));
}
