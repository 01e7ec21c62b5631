/**
 * A structural check of ONNX files in plain TypeScript, for tests that must run without Python's `onnx`:
 * a protobuf reader for the ModelProto fields we write, and the rules a consumer relies on — the IR
 * version that goes with the opset, every node's op known at that opset in the form that opset defines,
 * every value defined once before it is used (subgraphs see their outer scope), initializers sized as
 * their dims say, inputs and outputs typed.
 */

/** Fields of one protobuf message: number → raw values (varints as bigint, length-delimited as bytes). */
type Fields = Map<number, (bigint | Uint8Array)[]>;

function readMessage(buf: Uint8Array): Fields {
  const out: Fields = new Map();
  let p = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[p++];
      if (b === undefined) throw new Error('truncated varint');
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    let value: bigint | Uint8Array;
    if (wire === 0) value = varint();
    else if (wire === 2) {
      const n = Number(varint());
      if (p + n > buf.length) throw new Error(`field ${field}: length ${n} past the end`);
      value = buf.subarray(p, p + n);
      p += n;
    } else if (wire === 5) {
      value = buf.subarray(p, p + 4);
      p += 4;
    } else if (wire === 1) {
      value = buf.subarray(p, p + 8);
      p += 8;
    } else throw new Error(`unsupported wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

const text = (v: bigint | Uint8Array | undefined): string => (v instanceof Uint8Array ? new TextDecoder().decode(v) : '');
const int = (v: bigint | Uint8Array | undefined): number => (typeof v === 'bigint' ? Number(BigInt.asIntN(64, v)) : 0);
const messages = (f: Fields, n: number): Fields[] => (f.get(n) ?? []).map((v) => readMessage(v as Uint8Array));

export interface OnnxValueInfo {
  name: string;
  /** TensorProto.DataType (1 float, 7 int64, …) */
  elemType: number;
  /** A number, a dim_param name, or null for a free dim. */
  shape: (number | string | null)[];
}

export interface OnnxNode {
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  /** attribute name → its ints / int (the forms the rules read), subgraphs separately. */
  attributes: Map<string, number[]>;
  subgraphs: OnnxGraph[];
}

export interface OnnxGraph {
  nodes: OnnxNode[];
  initializers: { name: string; dataType: number; dims: number[]; rawBytes: number }[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  opsets: Map<string, number>;
  graph: OnnxGraph;
  metadata: Map<string, string>;
}

function valueInfo(f: Fields): OnnxValueInfo {
  const tensor = messages(messages(f, 2)[0] ?? new Map(), 1)[0] ?? new Map();
  const shape = messages(messages(tensor, 2)[0] ?? new Map(), 1).map((d) =>
    d.has(1) ? int(d.get(1)![0]) : d.has(2) ? text(d.get(2)![0]) : null,
  );
  return { name: text(f.get(1)?.[0]), elemType: int(tensor.get(1)?.[0]), shape };
}

function graph(f: Fields): OnnxGraph {
  return {
    nodes: messages(f, 1).map((n) => {
      const attributes = new Map<string, number[]>();
      const subgraphs: OnnxGraph[] = [];
      for (const a of messages(n, 5)) {
        const name = text(a.get(1)?.[0]);
        if (a.has(6)) subgraphs.push(graph(messages(a, 6)[0]));
        if (a.has(3)) attributes.set(name, [int(a.get(3)![0])]);
        if (a.has(8)) attributes.set(name, packedInts(a.get(8)!));
      }
      return {
        opType: text(n.get(4)?.[0]),
        domain: text(n.get(7)?.[0]),
        inputs: (n.get(1) ?? []).map(text),
        outputs: (n.get(2) ?? []).map(text),
        attributes,
        subgraphs,
      };
    }),
    initializers: messages(f, 5).map((t) => ({
      name: text(t.get(8)?.[0]),
      dataType: int(t.get(2)?.[0]),
      dims: packedInts(t.get(1) ?? []),
      rawBytes: (t.get(9)?.[0] as Uint8Array | undefined)?.length ?? -1,
    })),
    inputs: messages(f, 11).map(valueInfo),
    outputs: messages(f, 12).map(valueInfo),
  };
}

/** Repeated int64 fields, packed (one length-delimited run of varints) or not. */
function packedInts(values: (bigint | Uint8Array)[]): number[] {
  const out: number[] = [];
  for (const v of values) {
    if (typeof v === 'bigint') out.push(int(v));
    else {
      let p = 0;
      while (p < v.length) {
        let x = 0n;
        let shift = 0n;
        for (;;) {
          const b = v[p++];
          x |= BigInt(b & 0x7f) << shift;
          if (b < 0x80) break;
          shift += 7n;
        }
        out.push(int(x));
      }
    }
  }
  return out;
}

export function readOnnx(bytes: Uint8Array): OnnxModel {
  const m = readMessage(bytes);
  return {
    irVersion: int(m.get(1)?.[0]),
    opsets: new Map(messages(m, 8).map((o) => [text(o.get(1)?.[0]), int(o.get(2)?.[0])])),
    graph: graph(messages(m, 7)[0]),
    metadata: new Map(messages(m, 14).map((p) => [text(p.get(1)?.[0]), text(p.get(2)?.[0])])),
  };
}

/** The IR version each opset came with (ONNX's versioning table). */
const IR_OF_OPSET: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10 };

/**
 * The default-domain ops we emit, with the opset that introduced the signature we write. Reductions other
 * than ReduceSum take their axes as an input only from opset 18 (attribute before), Gelu exists from 20.
 */
const SINCE: Record<string, number> = {
  Add: 14,
  Sub: 14,
  Mul: 14,
  Div: 14,
  Pow: 15,
  Max: 13,
  Min: 13,
  Equal: 13,
  Less: 13,
  Greater: 13,
  Neg: 13,
  Exp: 13,
  Log: 13,
  Sqrt: 13,
  Tanh: 13,
  Sigmoid: 13,
  Relu: 14,
  Erf: 13,
  Abs: 13,
  Sign: 13,
  Reciprocal: 13,
  Identity: 16,
  Gelu: 20,
  Where: 16,
  Cast: 13,
  Sum: 13,
  Clip: 13,
  MatMul: 13,
  Conv: 11,
  ConvTranspose: 11,
  STFT: 17,
  LayerNormalization: 17,
  Reshape: 14,
  Shape: 15,
  ConstantOfShape: 9,
  Transpose: 13,
  Concat: 13,
  Slice: 13,
  Gather: 13,
  GatherElements: 13,
  ScatterElements: 16,
  GatherND: 13,
  ScatterND: 16,
  Unsqueeze: 13,
  Squeeze: 13,
  Expand: 13,
  Split: 13,
  Pad: 13,
  Range: 11,
  Softmax: 13,
  LogSoftmax: 13,
  ReduceSum: 13,
  ReduceMean: 13,
  ReduceMax: 13,
  ReduceProd: 13,
  Scan: 16,
  Gemm: 13,
  Not: 1,
  And: 7,
};
const AXES_INPUT_FROM_18 = new Set(['ReduceMean', 'ReduceMax', 'ReduceProd']);

/** Everything structurally wrong with `model` (empty when it is sound). */
export function structuralProblems(model: OnnxModel): string[] {
  const problems: string[] = [];
  const opset = model.opsets.get('') ?? -1;
  if (IR_OF_OPSET[opset] === undefined) problems.push(`default-domain opset ${opset} is not one we write`);
  else if (model.irVersion !== IR_OF_OPSET[opset]) problems.push(`IR version ${model.irVersion} does not go with opset ${opset}`);
  const check = (g: OnnxGraph, outer: Set<string>, where: string): void => {
    const defined = new Set(outer);
    const define = (name: string, what: string): void => {
      if (defined.has(name) && !outer.has(name)) problems.push(`${where}: ${what} '${name}' is defined twice`);
      defined.add(name);
    };
    for (const v of g.inputs) {
      define(v.name, 'input');
      if (v.elemType === 0 || v.shape.length === 0) problems.push(`${where}: input '${v.name}' has no tensor type`);
    }
    for (const t of g.initializers) {
      define(t.name, 'initializer');
      const size = { 1: 4, 7: 8, 6: 4, 2: 1, 3: 1, 9: 1, 10: 2, 11: 8, 16: 2 }[t.dataType];
      const count = t.dims.reduce((a, b) => a * b, 1);
      if (size === undefined) problems.push(`${where}: initializer '${t.name}' has data type ${t.dataType}`);
      else if (t.rawBytes !== count * size)
        problems.push(`${where}: initializer '${t.name}' holds ${t.rawBytes} bytes for ${count} values`);
    }
    g.nodes.forEach((n, i) => {
      const at = `${where}: node ${i} (${n.opType})`;
      for (const x of n.inputs) if (x !== '' && !defined.has(x)) problems.push(`${at} reads '${x}' before it is defined`);
      if (n.domain === '') {
        const since = SINCE[n.opType];
        if (since === undefined) problems.push(`${at}: not an op this check knows`);
        else if (since > opset) problems.push(`${at}: needs opset ${since}, the model declares ${opset}`);
        if (AXES_INPUT_FROM_18.has(n.opType)) {
          const viaInput = n.inputs.length > 1;
          if (opset >= 18 && n.attributes.has('axes')) problems.push(`${at}: axes as an attribute at opset ${opset}`);
          if (opset < 18 && viaInput) problems.push(`${at}: axes as an input at opset ${opset} (an attribute before 18)`);
        }
      } else if (!model.opsets.has(n.domain)) problems.push(`${at}: domain '${n.domain}' has no opset import`);
      for (const sub of n.subgraphs) check(sub, defined, `${at} body`);
      for (const y of n.outputs) define(y, 'value');
    });
    for (const v of g.outputs) {
      if (!defined.has(v.name)) problems.push(`${where}: output '${v.name}' is never computed`);
      if (v.elemType === 0) problems.push(`${where}: output '${v.name}' has no tensor type`);
    }
  };
  check(model.graph, new Set(), 'graph');
  return problems;
}
