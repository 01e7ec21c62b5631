/**
 * One ONNX model per training step: inputs are the batch, the trainable parameters, the optimiser
 * state, the learning rate and the step count; outputs are the loss, the new parameters and the new
 * state. TrainStep keeps parameters and state in memory between steps, in double buffers that ORT
 * reads from and writes into directly (pre-allocated outputs), swapped after every step.
 */
import * as ort from 'onnxruntime-node';
import { grad, isFloatDtype, dependsOn } from './autodiff.js';
import { Graph, Value } from './graph.js';
import { emitOnnx } from './onnx/emit.js';
import { clipCoefficient, type Optimizer, optimizer, type OptimizerConfig, type StepScalars } from './optim.js';
import { cast, mul } from './ops/elementwise.js';
import { chunkedMapRows, chunkSize } from './ops/control.js';
import { type RuntimeOptions, Session, fromOrt, toOrt } from './runtime.js';
import { isStatic, shapeToString } from './shape.js';
import { type AnyTypedArray, type DType, type HostTensor, numel, toFloat32 } from './tensor.js';

export interface TrainStepOptions {
  optimizer: OptimizerConfig;
  /** Trainable parameters (names or values); default every floating-point parameter the loss depends on. Others stay frozen (initializers). */
  params?: readonly (string | Value)[];
  /** Clip gradients to this global L2 norm before the update; the norm is reported either way when set. */
  clipGradNorm?: number;
  /** Extra values to compute and return every step (metrics, logits). */
  outputs?: Record<string, Value>;
  /** Initial learning rate (default 1e-3); change it any time with `step.lr = …`. */
  lr?: number;
  /**
   * Run the update of each large parameter chunk by chunk (an ONNX Scan over chunks of about this many
   * elements) so its chain of elementwise ops stays in cache instead of streaming the whole tensor
   * through memory once per op; false updates whole tensors. Default 16384 (≈10% less CPU than whole
   * tensors for a GPT-2-sized MLP on this machine's CPU); parameters under 4 chunks are updated whole.
   * Results are bit-identical either way.
   */
  chunk?: number | false;
  runtime?: RuntimeOptions;
}

export interface TrainStepResult {
  loss: number;
  /** Global gradient norm before clipping, when `clipGradNorm` is set. */
  gradNorm?: number;
  outputs: Record<string, HostTensor>;
}

export interface OptimizerState {
  /** Completed steps. */
  step: number;
  /** Per parameter, per slot (e.g. 'm', 'v'). */
  slots: Record<string, Record<string, HostTensor>>;
}

/** Reserved names of the training graph's extra inputs and outputs. */
export const TRAIN_IO = {
  lr: 'train/lr',
  step: 'train/step',
  loss: 'train/loss',
  gradNorm: 'train/grad_norm',
  nextParam: (p: string) => `train/next/${p}`,
  state: (slot: string, p: string) => `train/${slot}/${p}`,
  nextState: (slot: string, p: string) => `train/next_${slot}/${p}`,
};

/**
 * Two buffers of one tensor: ORT reads `input` and writes `output`, swapped after each step. The
 * output view may have another shape over the same memory (a chunked update writes [n / chunk, chunk]).
 */
class DoubleBuffer {
  private readonly views: { in: ort.Tensor; out: ort.Tensor }[];
  private cur = 0;
  constructor(readonly dtype: DType, readonly shape: number[], outShape: readonly number[] = shape, init?: AnyTypedArray) {
    this.views = [0, 1].map(() => {
      const data = allocate(dtype, numel(shape));
      const input = toOrt({ dtype, shape, data });
      return { in: input, out: outShape.join() === shape.join() ? input : toOrt({ dtype, shape: [...outShape], data }) };
    });
    if (init) this.set(init);
  }
  get input(): ort.Tensor { return this.views[this.cur].in; }
  get output(): ort.Tensor { return this.views[1 - this.cur].out; }
  swap(): void { this.cur = 1 - this.cur; }
  set(data: AnyTypedArray): void {
    (this.input.data as AnyTypedArray).set(data as never);
  }
  read(): HostTensor {
    return { dtype: this.dtype, shape: [...this.shape], data: (this.input.data as AnyTypedArray).slice() };
  }
}

function allocate(dtype: DType, n: number): AnyTypedArray {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'float16': return new Uint16Array(n);
    default: throw new Error(`cannot train parameters of dtype ${dtype}`);
  }
}

/** Converts a loaded tensor to `dtype` data (float32/float64 from any float dtype). */
function coerce(t: HostTensor, dtype: DType): AnyTypedArray {
  if (t.dtype === dtype) return t.data;
  if (dtype === 'float32') return toFloat32(t);
  if (dtype === 'float64') return Float64Array.from(toFloat32(t));
  throw new Error(`cannot load ${t.dtype} into a ${dtype} parameter`);
}

interface ParamSlot { name: string; value: Value; buf: DoubleBuffer; state: DoubleBuffer[] }

export class TrainStep {
  /** Learning rate fed to the next step. */
  lr: number;
  private steps = 0;
  private busy = false;
  private readonly feeds: Record<string, ort.Tensor> = {};
  private readonly fetches: Record<string, ort.Tensor | null> = {};
  private readonly lrT = new ort.Tensor('float64', new Float64Array(1), []);
  private readonly stepT = new ort.Tensor('int64', new BigInt64Array(1), []);
  private readonly lossT: ort.Tensor;
  private readonly normT?: ort.Tensor;

  /** @internal use buildTrainStep */
  constructor(
    private readonly session: Session,
    private readonly graph: Graph,
    private readonly slots: ParamSlot[],
    readonly slotNames: readonly string[],
    readonly batchInputs: readonly Value[],
    private readonly extra: readonly string[],
    loss: Value,
    hasNorm: boolean,
    lr: number,
  ) {
    this.lr = lr;
    this.lossT = toOrt({ dtype: loss.dtype, shape: loss.shape as number[], data: allocate(loss.dtype, 1) });
    this.fetches[TRAIN_IO.loss] = this.lossT;
    if (hasNorm) {
      this.normT = new ort.Tensor('float32', new Float32Array(1), []);
      this.fetches[TRAIN_IO.gradNorm] = this.normT;
    }
    for (const name of extra) this.fetches[name] = null;
    this.feeds[TRAIN_IO.lr] = this.lrT;
    this.feeds[TRAIN_IO.step] = this.stepT;
  }

  /** Names of the trainable parameters, in graph order. */
  get paramNames(): string[] { return this.slots.map((s) => s.name); }

  /** Completed steps. */
  get step(): number { return this.steps; }

  /** One optimisation step on `batch` (every batch input of the graph, by name). */
  async run(batch: Record<string, HostTensor>, options: { lr?: number } = {}): Promise<TrainStepResult> {
    if (this.busy) throw new Error('TrainStep.run: the previous step is still running');
    this.busy = true;
    try {
      for (const v of this.batchInputs) {
        const t = batch[v.name];
        if (!t) throw new Error(`TrainStep.run: missing batch input ${v.name}`);
        this.feeds[v.name] = toOrt(t);
      }
      (this.lrT.data as Float64Array)[0] = options.lr ?? this.lr;
      (this.stepT.data as BigInt64Array)[0] = BigInt(this.steps + 1);
      for (const s of this.slots) {
        this.feeds[s.name] = s.buf.input;
        this.fetches[TRAIN_IO.nextParam(s.name)] = s.buf.output;
        s.state.forEach((b, k) => {
          this.feeds[TRAIN_IO.state(this.slotNames[k], s.name)] = b.input;
          this.fetches[TRAIN_IO.nextState(this.slotNames[k], s.name)] = b.output;
        });
      }
      const out = await this.session.runOrt(this.feeds, this.fetches);
      for (const s of this.slots) {
        s.buf.swap();
        for (const b of s.state) b.swap();
      }
      this.steps++;
      const outputs: Record<string, HostTensor> = {};
      for (const name of this.extra) outputs[name] = fromOrt(out[name]);
      return {
        loss: Number(this.lossT.data[0]),
        ...(this.normT ? { gradNorm: Number(this.normT.data[0]) } : {}),
        outputs,
      };
    } finally {
      this.busy = false;
    }
  }

  /** A copy of one trainable parameter's current value. */
  param(name: string): HostTensor {
    return this.slot(name).buf.read();
  }

  /** Copies of all trainable parameters (for checkpoints). */
  params(): Record<string, HostTensor> {
    return Object.fromEntries(this.slots.map((s) => [s.name, s.buf.read()]));
  }

  /** Overwrites trainable parameters (shapes must match; float dtypes are converted). Unknown names are an error unless `strict` is false. */
  loadParams(tensors: Record<string, HostTensor>, { strict = true } = {}): void {
    for (const [name, t] of Object.entries(tensors)) {
      const s = this.slots.find((p) => p.name === name);
      if (!s) {
        if (strict) throw new Error(`loadParams: ${name} is not a trainable parameter`);
        continue;
      }
      if (t.shape.join() !== s.buf.shape.join()) throw new Error(`loadParams: ${name} is [${t.shape}], expected [${s.buf.shape}]`);
      s.buf.set(coerce(t, s.buf.dtype));
    }
  }

  /** Copies of the optimiser state and the step count. */
  optimizerState(): OptimizerState {
    const slots: OptimizerState['slots'] = {};
    for (const s of this.slots) slots[s.name] = Object.fromEntries(s.state.map((b, k) => [this.slotNames[k], b.read()]));
    return { step: this.steps, slots };
  }

  loadOptimizerState(state: OptimizerState): void {
    for (const s of this.slots) {
      const src = state.slots[s.name];
      if (!src) throw new Error(`loadOptimizerState: no state for ${s.name}`);
      s.state.forEach((b, k) => {
        const t = src[this.slotNames[k]];
        if (!t || t.shape.join() !== b.shape.join()) throw new Error(`loadOptimizerState: bad ${this.slotNames[k]} for ${s.name}`);
        b.set(coerce(t, b.dtype));
      });
    }
    this.steps = state.step;
  }

  /** Writes the current parameters into the graph's parameter tensors, so inference sessions compiled from it use them. */
  writeParamsToGraph(): void {
    for (const s of this.slots) this.graph.params.set(s.name, { value: s.value, tensor: s.buf.read() });
  }

  async release(): Promise<void> {
    await this.session.release();
  }

  private slot(name: string): ParamSlot {
    const s = this.slots.find((p) => p.name === name);
    if (!s) throw new Error(`${name} is not a trainable parameter`);
    return s;
  }
}

/**
 * Differentiates `loss` (a one-element value, or a builder that traces it into a fresh graph) with
 * respect to the trainable parameters, appends the optimiser update, and compiles forward + backward
 * + update into one session. The graph's own inputs and outputs are left as they were.
 */
export async function buildTrainStep(loss: Value | ((g: Graph) => Value), options: TrainStepOptions): Promise<TrainStep> {
  const lossV = loss instanceof Value ? loss : loss(new Graph('train'));
  const g = lossV.graph;
  const trainable = selectParams(g, lossV, options.params);
  if (trainable.length === 0) throw new Error('buildTrainStep: the loss depends on no floating-point parameter');
  const opt = optimizer(options.optimizer);

  const reserved = new Set(g.inputs.map((v) => v.name).concat([...g.params.keys()]));
  const input = (name: string, dtype: DType, shape: number[]): Value => {
    if (reserved.has(name)) throw new Error(`buildTrainStep: name ${name} is already used in the graph`);
    reserved.add(name);
    return new Value(g, name, dtype, shape, 'input');
  };
  const lr = input(TRAIN_IO.lr, 'float64', []);
  const step = input(TRAIN_IO.step, 'int64', []);

  const grads = grad(lossV, trainable);
  const clip = options.clipGradNorm !== undefined ? clipCoefficient(grads, options.clipGradNorm) : undefined;
  const norm = clip?.norm;

  const stateInputs: Value[] = [];
  const outputs: { name: string; value: Value }[] = [{ name: TRAIN_IO.loss, value: lossV }];
  if (norm) outputs.push({ name: TRAIN_IO.gradNorm, value: norm });
  const slots: ParamSlot[] = [];
  const scalars = { lr, step };
  trainable.forEach((p, i) => {
    const shape = p.shape as number[];
    const state = opt.slots.map((slot) => input(TRAIN_IO.state(slot, p.name), p.dtype, shape));
    stateInputs.push(...state);
    const u = updateParam(opt, p, grads[i], state, scalars, clip?.coef, options.chunk ?? 16384);
    outputs.push({ name: TRAIN_IO.nextParam(p.name), value: u.param });
    u.state.forEach((v, k) => outputs.push({ name: TRAIN_IO.nextState(opt.slots[k], p.name), value: v }));
    const init = g.params.get(p.name)!.tensor;
    const outShape = u.param.shape as number[];
    slots.push({
      name: p.name,
      value: p,
      buf: new DoubleBuffer(p.dtype, shape, outShape, coerce(init, p.dtype)),
      state: state.map(() => new DoubleBuffer(p.dtype, shape, outShape)),
    });
  });
  const extra = Object.entries(options.outputs ?? {});
  for (const [name] of extra) {
    if (outputs.some((o) => o.name === name)) throw new Error(`buildTrainStep: output name ${name} is reserved`);
  }
  outputs.push(...extra.map(([name, value]) => ({ name, value })));

  const names = new Set(trainable.map((p) => p.name));
  const batch = usedInputs(g, outputs.map((o) => o.value));
  const model = emitOnnx(g, {
    inputs: [...batch, lr, step, ...stateInputs],
    outputs,
    paramsAsInputs: (n) => names.has(n),
  });
  const session = await Session.fromBytes(model, options.runtime);
  return new TrainStep(session, g, slots, opt.slots, batch, extra.map(([n]) => n), lossV, !!norm, options.lr ?? 1e-3);
}

/**
 * One parameter's update, whole or chunked (the clipping factor, if any, applied inside); a chunked
 * update's results stay [n / chunk, chunk], the layout the Scan writes into the output buffers.
 */
function updateParam(
  opt: Optimizer, p: Value, g: Value, state: Value[], scalars: StepScalars, coef: Value | undefined, chunk: number | false,
): { param: Value; state: Value[] } {
  const prepared = opt.prepare(scalars, p.dtype);
  const scale = coef && cast(coef, p.dtype);
  const c = chunk === false ? undefined : chunkSize(numel(p.shape as number[]), chunk);
  if (!c) return opt.elementwise(p, scale ? mul(g, scale) : g, state, prepared, p.name);
  const outs = chunkedMapRows([p, g, ...state], scale ? [...prepared, scale] : prepared, (xs, sc) => {
    const gc = scale ? mul(xs[1], sc[sc.length - 1]) : xs[1];
    const r = opt.elementwise(xs[0], gc, xs.slice(2), scale ? sc.slice(0, -1) : sc, p.name);
    return [r.param, ...r.state];
  }, c);
  return { param: outs[0], state: outs.slice(1) };
}

/** The graph inputs the given values depend on (the batch a step needs). */
function usedInputs(g: Graph, values: Value[]): Value[] {
  const seen = new Set<Value>();
  const stack = [...values];
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (v.producer) stack.push(...v.producer.inputs);
  }
  return g.inputs.filter((v) => seen.has(v));
}

function selectParams(g: Graph, loss: Value, params: TrainStepOptions['params']): Value[] {
  if (!params) {
    const all = [...g.params.values()].map((p) => p.value).filter((v) => isFloatDtype(v.dtype));
    const used = dependsOn(loss, all);
    return all.filter((_, i) => used[i]);
  }
  const out = params.map((p) => {
    const name = typeof p === 'string' ? p : p.name;
    const entry = g.params.get(name);
    if (!entry || (typeof p !== 'string' && entry.value !== p)) throw new Error(`buildTrainStep: ${name} is not a parameter of the loss's graph`);
    if (!isFloatDtype(entry.value.dtype)) throw new Error(`buildTrainStep: ${name} is not floating point`);
    return entry.value;
  });
  const used = dependsOn(loss, out);
  const unused = out.filter((_, i) => !used[i]).map((v) => v.name);
  if (unused.length) throw new Error(`buildTrainStep: the loss does not depend on ${unused.join(', ')}`);
  for (const v of out) if (!isStatic(v.shape)) throw new Error(`parameter ${v.name} has a symbolic shape ${shapeToString(v.shape)}`);
  return out;
}
