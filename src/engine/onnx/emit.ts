import type { Attr, Graph, Node, Value } from '../graph.js';
import type { DType, HostTensor } from '../tensor.js';
import { Message } from './protobuf.js';

/** ONNX IR version and default-domain opset the emitted models declare. */
export const IR_VERSION = 10;
export const OPSET = 21;

const ONNX_DTYPE: Record<DType, number> = {
  float32: 1, uint8: 2, int8: 3, int32: 6, int64: 7, bool: 9, float16: 10, float64: 11, bfloat16: 16,
};

export interface EmitOptions {
  /** Emit parameters as graph inputs instead of initializers (training: they change every step). */
  paramsAsInputs?: boolean;
  producer?: string;
  /** key → value pairs stored in the model's metadata_props. */
  metadata?: Record<string, string>;
}

/** Serialises a traced graph into an ONNX ModelProto. */
export function emitOnnx(graph: Graph, options: EmitOptions = {}): Uint8Array {
  const g = new Message();
  const live = liveNodes(graph);
  live.forEach((node, i) => g.message(1, nodeProto(node, i)));
  g.string(2, graph.name);
  const used = usedValues(graph, live);
  for (const [name, { tensor }] of graph.constants) {
    if (used.has(name)) g.message(5, tensorProto(name, tensor));
  }
  if (!options.paramsAsInputs) {
    for (const [name, { tensor }] of graph.params) {
      if (used.has(name)) g.message(5, tensorProto(name, tensor));
    }
  }
  for (const v of graph.inputs) g.message(11, valueInfo(v.name, v));
  if (options.paramsAsInputs) {
    for (const [name, { value }] of graph.params) g.message(11, valueInfo(name, value));
  }
  for (const { name, value } of graph.outputs) g.message(12, valueInfo(name, value));

  const m = new Message();
  m.int(1, IR_VERSION);
  m.string(2, options.producer ?? 'clap-ts');
  m.message(7, g);
  m.message(8, new Message().string(1, '').int(2, OPSET));
  const domains = new Set(live.map((n) => n.op.domain).filter((d): d is string => !!d));
  for (const d of domains) m.message(8, new Message().string(1, d).int(2, 1));
  for (const [k, v] of Object.entries(options.metadata ?? {})) {
    m.message(14, new Message().string(1, k).string(2, v));
  }
  return m.toBytes();
}

/** Nodes that contribute to an output, in trace order; an output that is itself a graph value is renamed by an Identity. */
function liveNodes(graph: Graph): Node[] {
  const needed = new Set<Node>();
  const stack: Value[] = graph.outputs.map((o) => o.value);
  while (stack.length) {
    const v = stack.pop()!;
    const p = v.producer;
    if (p && !needed.has(p)) {
      needed.add(p);
      stack.push(...p.inputs);
    }
  }
  const nodes = graph.nodes.filter((n) => needed.has(n));
  const renames: Node[] = graph.outputs.map(({ name, value }) => ({
    op: IDENTITY, inputs: [value], attrs: {}, outputs: [{ name } as Value],
  }));
  return [...nodes, ...renames];
}

const IDENTITY = { type: 'Identity', infer: () => [] };

function usedValues(graph: Graph, nodes: Node[]): Set<string> {
  const used = new Set<string>();
  for (const n of nodes) for (const x of n.inputs) used.add(x.name);
  void graph;
  return used;
}

function nodeProto(node: Node, index: number): Message {
  const m = new Message();
  for (const x of node.inputs) m.string(1, x ? x.name : '');
  for (const y of node.outputs) m.string(2, y.name);
  m.string(3, `${node.op.type}_${index}`);
  m.string(4, node.op.type);
  for (const [name, a] of Object.entries(node.attrs)) m.message(5, attrProto(name, a));
  if (node.op.domain) m.string(7, node.op.domain);
  return m;
}

function attrProto(name: string, a: Attr): Message {
  const m = new Message().string(1, name);
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
