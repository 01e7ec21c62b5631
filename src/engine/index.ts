export * from './tensor.js';
export * from './shape.js';
export { Graph, Value, type Attr, type Attrs, type EmitTarget, type Node, type OpDef, type Subgraph, type VjpRule } from './graph.js';
export * as ops from './ops/index.js';
export { emitOnnx, type EmitOptions, IR_VERSION, irVersionFor, MIN_OPSET, OPSET } from './onnx/emit.js';
export { Session, type RuntimeOptions, toOrt, fromOrt, configuredThreads } from './runtime.js';
export { grad, dependsOn, type GradOptions } from './autodiff.js';
export {
  optimizer,
  globalNorm,
  clipByGlobalNorm,
  clipCoefficient,
  type Optimizer,
  type OptimizerConfig,
  type SgdConfig,
  type AdamConfig,
  type StepScalars,
} from './optim.js';
export {
  type BufferUpdate,
  buildTrainStep,
  TrainStep,
  TRAIN_IO,
  type TrainStepOptions,
  type TrainStepResult,
  type OptimizerState,
} from './train.js';
