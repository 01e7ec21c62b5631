export * from './tensor.js';
export * from './shape.js';
export { Graph, Value, type Attr, type Attrs, type Node, type OpDef, type VjpRule } from './graph.js';
export * as ops from './ops/index.js';
export { emitOnnx, IR_VERSION, OPSET } from './onnx/emit.js';
export { Session, type RuntimeOptions } from './runtime.js';
