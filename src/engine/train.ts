/**
 * One ONNX model per training step: inputs are the batch, the trainable parameters, the optimiser
 * state, the learning rate and the step count; outputs are the loss, the new parameters and the new
 * state. TrainStep keeps parameters and state in memory between steps, in double buffers that ORT
 * reads from and writes into directly (pre-allocated outputs), swapped after every step.
 */
import * as ort from 'onnxruntime-node';
import { grad, dependsOn } from './autodiff.js';
import { Graph, Value } from './graph.js';
import { emitOnnx } from './onnx/emit.js';
import { clipCoefficient, type Optimizer, optimizer, type OptimizerConfig, type StepScalars } from './optim.js';
import { add, cast, div, mul } from './ops/elementwise.js';
import { chunkedMapRows, chunkSize } from './ops/control.js';
import { type RuntimeOptions, Session, fromOrt, toOrt } from './runtime.js';
import { isStatic, shapeToString } from './shape.js';
import { type AnyTypedArray, type DType, type HostTensor, isFloatDtype, numel, toFloat32 } from './tensor.js';

export interface TrainStepOptions {
  optimizer: OptimizerConfig;
  /** Trainable parameters (names or values); default every floating-point parameter the loss depends on. Others stay frozen (initializers). */
  params?: readonly (string | Value)[];
  /** Clip gradients to this global L2 norm before the update; the norm is reported either way when set. */
  clipGradNorm?: number;
  /** Extra values to compute and return every step (metrics, logits). */
  outputs?: Record<string, Value>;
  /**
   * State the step updates without a gradient (BatchNorm's running statistics): each `param` (a graph
   * parameter the loss does not depend on) is fed like a trainable one and replaced after every forward pass
   * — every micro-batch with `accumulate` — by its `next`, computed in the same graph. `params()` and
   * `loadParams` include them, so checkpoints and exported weights keep them.
   */
  buffers?: readonly BufferUpdate[];
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
  /**
   * Gradient accumulation: sum the gradients of this many consecutive `run` calls (micro-batches) and
   * update once with their mean (clipping, if set, applies to the mean). Default 1: one graph that
   * updates on every call. For k > 1 two sessions are compiled: a gradient graph (batch, parameters,
   * accumulators → loss, accumulators + gradient) and an apply graph (parameters, optimiser state,
   * accumulators, lr, step → new parameters and state). For a loss that is a mean over examples, k
   * equal micro-batches give the same update as one batch k times larger.
   */
  accumulate?: number;
  runtime?: RuntimeOptions;
}

/** A buffer (`TrainStepOptions.buffers`) and its value after a forward pass. */
export interface BufferUpdate {
  param: Value;
  next: Value;
}

export interface TrainStepResult {
  loss: number;
  /** Global gradient norm before clipping, when `clipGradNorm` is set. */
  gradNorm?: number;
  outputs: Record<string, HostTensor>;
  /** Whether this call applied an optimiser update (always with `accumulate` 1; every k-th call otherwise). */
  updated: boolean;
}

export interface OptimizerState {
  /** Completed steps (optimiser updates, not micro-batches). */
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
  acc: (p: string) => `train/acc/${p}`,
  nextAcc: (p: string) => `train/next_acc/${p}`,
  nextBuffer: (p: string) => `train/next_buffer/${p}`,
};

/**
 * Two buffers of one tensor: ORT reads `input` and writes `output`, swapped after each step. The
 * output view may have another shape over the same memory (a chunked update writes [n / chunk, chunk]).
 */
class DoubleBuffer {
  private readonly views: { in: ort.Tensor; out: ort.Tensor }[];
  private cur = 0;
  constructor(
    readonly dtype: DType,
    readonly shape: number[],
    outShape: readonly number[] = shape,
    init?: AnyTypedArray,
  ) {
    this.views = [0, 1].map(() => {
      const data = allocate(dtype, numel(shape));
      const input = toOrt({ dtype, shape, data });
      return { in: input, out: outShape.join() === shape.join() ? input : toOrt({ dtype, shape: [...outShape], data }) };
    });
    if (init) this.set(init);
  }
  get input(): ort.Tensor {
    return this.views[this.cur].in;
  }
  get output(): ort.Tensor {
    return this.views[1 - this.cur].out;
  }
  swap(): void {
    this.cur = 1 - this.cur;
  }
  set(data: AnyTypedArray): void {
    (this.input.data as AnyTypedArray).set(data as never);
  }
  read(): HostTensor {
    return { dtype: this.dtype, shape: [...this.shape], data: (this.input.data as AnyTypedArray).slice() };
  }
  zero(): void {
    for (const v of this.views) (v.in.data as AnyTypedArray).fill(0 as never);
  }
}

function allocate(dtype: DType, n: number): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'float16':
      return new Uint16Array(n);
    case 'int64':
      return new BigInt64Array(n);
    default:
      throw new Error(`cannot train parameters of dtype ${dtype}`);
  }
}

/** Converts a loaded tensor to `dtype` data (float32/float64 from any float dtype). */
function coerce(t: HostTensor, dtype: DType): AnyTypedArray {
  if (t.dtype === dtype) return t.data;
  if (dtype === 'float32') return toFloat32(t);
  if (dtype === 'float64') return Float64Array.from(toFloat32(t));
  if (dtype === 'int64' && t.dtype === 'int32') return BigInt64Array.from(t.data as Int32Array, (v) => BigInt(v));
  throw new Error(`cannot load ${t.dtype} into a ${dtype} parameter`);
}

interface ParamSlot {
  name: string;
  value: Value;
  buf: DoubleBuffer;
  state: DoubleBuffer[];
  acc?: DoubleBuffer;
}

/** A buffer's value between forward passes. */
interface BufferSlot {
  name: string;
  value: Value;
  buf: DoubleBuffer;
}

/** The gradient session of an accumulating step (`accumulate` > 1). */
interface Accumulation {
  k: number;
  session: Session;
}

export class TrainStep {
  /** Learning rate fed to the next step. */
  lr: number;
  private steps = 0;
  private micro = 0;
  private busy = false;
  private readonly gradFeeds: Record<string, ort.Tensor> = {};
  private readonly gradFetches: Record<string, ort.Tensor | null> = {};
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
    private readonly buffers: readonly BufferSlot[],
    private readonly accum?: Accumulation,
  ) {
    this.lr = lr;
    this.lossT = toOrt({ dtype: loss.dtype, shape: loss.shape as number[], data: allocate(loss.dtype, 1) });
    // With accumulation the loss and extra outputs come from the gradient session, the norm from the apply session.
    const forward = accum ? this.gradFetches : this.fetches;
    forward[TRAIN_IO.loss] = this.lossT;
    if (hasNorm) {
      this.normT = new ort.Tensor('float32', new Float32Array(1), []);
      this.fetches[TRAIN_IO.gradNorm] = this.normT;
    }
    for (const name of extra) forward[name] = null;
    this.feeds[TRAIN_IO.lr] = this.lrT;
    this.feeds[TRAIN_IO.step] = this.stepT;
  }

  /** Names of the trainable parameters, in graph order. */
  get paramNames(): string[] {
    return this.slots.map((s) => s.name);
  }

  /** Completed steps (optimiser updates, not micro-batches). */
  get step(): number {
    return this.steps;
  }

  /** Micro-batches per update (`accumulate`). */
  get accumulate(): number {
    return this.accum?.k ?? 1;
  }

  /** Micro-batches accumulated since the last update (0 at an update boundary). */
  get pending(): number {
    return this.micro;
  }

  /**
   * One optimisation step on `batch` (every batch input of the graph, by name); with `accumulate` k > 1,
   * one micro-batch, and every k-th call also applies the update (`updated` in the result).
   */
  async run(batch: Record<string, HostTensor>, options: { lr?: number } = {}): Promise<TrainStepResult> {
    if (this.busy) throw new Error('TrainStep.run: the previous step is still running');
    this.busy = true;
    try {
      const batchFeeds = this.accum ? this.gradFeeds : this.feeds;
      for (const v of this.batchInputs) {
        const t = batch[v.name];
        if (!t) throw new Error(`TrainStep.run: missing batch input ${v.name}`);
        batchFeeds[v.name] = toOrt(t);
      }
      if (this.accum) return await this.accumulateMicro(options);
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
      this.bindBuffers(this.feeds, this.fetches);
      const out = await this.session.runOrt(this.feeds, this.fetches);
      for (const s of this.slots) {
        s.buf.swap();
        for (const b of s.state) b.swap();
      }
      for (const b of this.buffers) b.buf.swap();
      this.steps++;
      const outputs: Record<string, HostTensor> = {};
      for (const name of this.extra) outputs[name] = fromOrt(out[name]);
      return {
        loss: Number(this.lossT.data[0]),
        ...(this.normT ? { gradNorm: Number(this.normT.data[0]) } : {}),
        outputs,
        updated: true,
      };
    } finally {
      this.busy = false;
    }
  }

  /** Gradient session on the fed micro-batch (accumulators += gradient); the apply session every k-th call. */
  private async accumulateMicro(options: { lr?: number }): Promise<TrainStepResult> {
    const accum = this.accum!;
    for (const s of this.slots) {
      this.gradFeeds[s.name] = s.buf.input;
      this.gradFeeds[TRAIN_IO.acc(s.name)] = s.acc!.input;
      this.gradFetches[TRAIN_IO.nextAcc(s.name)] = s.acc!.output;
    }
    this.bindBuffers(this.gradFeeds, this.gradFetches);
    const out = await accum.session.runOrt(this.gradFeeds, this.gradFetches);
    for (const s of this.slots) s.acc!.swap();
    for (const b of this.buffers) b.buf.swap();
    this.micro++;
    const outputs: Record<string, HostTensor> = {};
    for (const name of this.extra) outputs[name] = fromOrt(out[name]);
    const loss = Number(this.lossT.data[0]);
    if (this.micro < accum.k) return { loss, outputs, updated: false };

    (this.lrT.data as Float64Array)[0] = options.lr ?? this.lr;
    (this.stepT.data as BigInt64Array)[0] = BigInt(this.steps + 1);
    for (const s of this.slots) {
      this.feeds[s.name] = s.buf.input;
      this.feeds[TRAIN_IO.acc(s.name)] = s.acc!.input;
      this.fetches[TRAIN_IO.nextParam(s.name)] = s.buf.output;
      s.state.forEach((b, k) => {
        this.feeds[TRAIN_IO.state(this.slotNames[k], s.name)] = b.input;
        this.fetches[TRAIN_IO.nextState(this.slotNames[k], s.name)] = b.output;
      });
    }
    await this.session.runOrt(this.feeds, this.fetches);
    for (const s of this.slots) {
      s.buf.swap();
      for (const b of s.state) b.swap();
      s.acc!.zero();
    }
    this.micro = 0;
    this.steps++;
    return { loss, ...(this.normT ? { gradNorm: Number(this.normT.data[0]) } : {}), outputs, updated: true };
  }

  /** Feeds the buffers' current values to the session that runs the forward pass and fetches their next ones. */
  private bindBuffers(feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null>): void {
    for (const b of this.buffers) {
      feeds[b.name] = b.buf.input;
      fetches[TRAIN_IO.nextBuffer(b.name)] = b.buf.output;
    }
  }

  /** Drops the gradients accumulated since the last update (back to an update boundary). */
  discardPending(): void {
    for (const s of this.slots) s.acc?.zero();
    this.micro = 0;
  }

  /** A copy of one trainable parameter's (or buffer's) current value. */
  param(name: string): HostTensor {
    return this.slot(name).buf.read();
  }

  /** Copies of all trainable parameters and buffers (for checkpoints). */
  params(): Record<string, HostTensor> {
    return Object.fromEntries([...this.slots, ...this.buffers].map((s) => [s.name, s.buf.read()]));
  }

  /**
   * Overwrites trainable parameters and buffers (shapes must match; float dtypes are converted). Unknown names
   * are an error unless `strict` is false.
   */
  loadParams(tensors: Record<string, HostTensor>, { strict = true } = {}): void {
    for (const [name, t] of Object.entries(tensors)) {
      const s = this.slots.find((p) => p.name === name) ?? this.buffers.find((b) => b.name === name);
      if (!s) {
        if (strict) throw new Error(`loadParams: ${name} is not a trainable parameter or buffer`);
        continue;
      }
      if (t.shape.join() !== s.buf.shape.join()) throw new Error(`loadParams: ${name} is [${t.shape}], expected [${s.buf.shape}]`);
      s.buf.set(coerce(t, s.buf.dtype));
    }
  }

  /**
   * Copies of the optimiser state and the step count. Only at an update boundary (`pending` 0): the
   * gradient accumulators are not part of the state, so checkpoints are taken between updates.
   */
  optimizerState(): OptimizerState {
    if (this.micro !== 0) {
      throw new Error(
        `TrainStep.optimizerState: ${this.micro} of ${this.accumulate} micro-batches accumulated; save state only at update boundaries`,
      );
    }
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
    this.discardPending();
  }

  /** Writes the current parameters into the graph's parameter tensors, so inference sessions compiled from it use them. */
  writeParamsToGraph(): void {
    for (const s of [...this.slots, ...this.buffers]) this.graph.params.set(s.name, { value: s.value, tensor: s.buf.read() });
  }

  async release(): Promise<void> {
    await this.session.release();
    await this.accum?.session.release();
  }

  private slot(name: string): ParamSlot | BufferSlot {
    const s = this.slots.find((p) => p.name === name) ?? this.buffers.find((b) => b.name === name);
    if (!s) throw new Error(`${name} is not a trainable parameter or buffer`);
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
  const k = options.accumulate ?? 1;
  if (!Number.isInteger(k) || k < 1) throw new Error(`buildTrainStep: accumulate must be an integer >= 1, got ${k}`);

  const grads = grad(lossV, trainable);
  // With accumulation the update sees the mean of the accumulated gradients (sum / k), fed as inputs.
  const accInputs = k > 1 ? trainable.map((p) => input(TRAIN_IO.acc(p.name), p.dtype, p.shape as number[])) : [];
  const updateGrads = k > 1 ? accInputs.map((a) => div(a, k)) : grads;
  const clip = options.clipGradNorm !== undefined ? clipCoefficient(updateGrads, options.clipGradNorm) : undefined;
  const norm = clip?.norm;

  const stateInputs: Value[] = [];
  const lossOut = { name: TRAIN_IO.loss, value: lossV };
  const updates: { name: string; value: Value }[] = [];
  if (norm) updates.push({ name: TRAIN_IO.gradNorm, value: norm });
  const slots: ParamSlot[] = [];
  const scalars = { lr, step };
  trainable.forEach((p, i) => {
    const shape = p.shape as number[];
    const state = opt.slots.map((slot) => input(TRAIN_IO.state(slot, p.name), p.dtype, shape));
    stateInputs.push(...state);
    const u = updateParam(opt, p, updateGrads[i], state, scalars, clip?.coef, options.chunk ?? 16384);
    updates.push({ name: TRAIN_IO.nextParam(p.name), value: u.param });
    u.state.forEach((v, j) => updates.push({ name: TRAIN_IO.nextState(opt.slots[j], p.name), value: v }));
    const init = g.params.get(p.name)!.tensor;
    const outShape = u.param.shape as number[];
    slots.push({
      name: p.name,
      value: p,
      buf: new DoubleBuffer(p.dtype, shape, outShape, coerce(init, p.dtype)),
      state: state.map(() => new DoubleBuffer(p.dtype, shape, outShape)),
      ...(k > 1 ? { acc: new DoubleBuffer(p.dtype, shape) } : {}),
    });
  });
  const { slots: bufferSlots, outputs: bufferOuts } = bufferUpdates(g, options.buffers ?? [], new Set(trainable));
  const extra = Object.entries(options.outputs ?? {});
  const reservedOut = new Set(
    [lossOut, ...updates, ...bufferOuts].map((o) => o.name).concat(trainable.map((p) => TRAIN_IO.nextAcc(p.name))),
  );
  for (const [name] of extra) {
    if (reservedOut.has(name)) throw new Error(`buildTrainStep: output name ${name} is reserved`);
  }
  const extraOut = extra.map(([name, value]) => ({ name, value }));

  // Buffers are inputs of the session that runs the forward pass only.
  const names = new Set(trainable.map((p) => p.name));
  const bufferNames = new Set(bufferSlots.map((b) => b.name));
  const paramsAsInputs = (n: string) => names.has(n) || bufferNames.has(n);
  const applyInputs = (n: string) => names.has(n);
  const rt = options.lr ?? 1e-3;
  if (k === 1) {
    const outputs = [lossOut, ...updates, ...bufferOuts, ...extraOut];
    const batch = usedInputs(
      g,
      outputs.map((o) => o.value),
    );
    const model = emitOnnx(g, { inputs: [...batch, lr, step, ...stateInputs], outputs, paramsAsInputs });
    const session = await Session.fromBytes(model, options.runtime);
    return new TrainStep(
      session,
      g,
      slots,
      opt.slots,
      batch,
      extra.map(([n]) => n),
      lossV,
      !!norm,
      rt,
      bufferSlots,
    );
  }
  // Gradient graph: loss, extras and accumulators + gradient; apply graph: the update from the accumulators.
  const accOuts = trainable.map((p, i) => ({ name: TRAIN_IO.nextAcc(p.name), value: add(accInputs[i], cast(grads[i], p.dtype)) }));
  const gradOutputs = [lossOut, ...accOuts, ...bufferOuts, ...extraOut];
  const batch = usedInputs(
    g,
    gradOutputs.map((o) => o.value),
  );
  const gradModel = emitOnnx(g, { inputs: [...batch, ...accInputs], outputs: gradOutputs, paramsAsInputs });
  const applyModel = emitOnnx(g, { inputs: [lr, step, ...stateInputs, ...accInputs], outputs: updates, paramsAsInputs: applyInputs });
  const gradSession = await Session.fromBytes(gradModel, options.runtime);
  const applySession = await Session.fromBytes(applyModel, options.runtime);
  return new TrainStep(
    applySession,
    g,
    slots,
    opt.slots,
    batch,
    extra.map(([n]) => n),
    lossV,
    !!norm,
    rt,
    bufferSlots,
    { k, session: gradSession },
  );
}

/**
 * One parameter's update, whole or chunked (the clipping factor, if any, applied inside); a chunked
 * update's results stay [n / chunk, chunk], the layout the Scan writes into the output buffers.
 */
function updateParam(
  opt: Optimizer,
  p: Value,
  g: Value,
  state: Value[],
  scalars: StepScalars,
  coef: Value | undefined,
  chunk: number | false,
): { param: Value; state: Value[] } {
  const prepared = opt.prepare(scalars, p.dtype);
  const scale = coef && cast(coef, p.dtype);
  const c = chunk === false ? undefined : chunkSize(numel(p.shape as number[]), chunk);
  if (!c) return opt.elementwise(p, scale ? mul(g, scale) : g, state, prepared, p.name);
  const outs = chunkedMapRows(
    [p, g, ...state],
    scale ? [...prepared, scale] : prepared,
    (xs, sc) => {
      const gc = scale ? mul(xs[1], sc[sc.length - 1]) : xs[1];
      const r = opt.elementwise(xs[0], gc, xs.slice(2), scale ? sc.slice(0, -1) : sc, p.name);
      return [r.param, ...r.state];
    },
    c,
  );
  return { param: outs[0], state: outs.slice(1) };
}

/** The buffers' slots (initialised from the graph) and their `next` outputs; checked against the graph and the trainable set. */
function bufferUpdates(
  g: Graph,
  buffers: readonly BufferUpdate[],
  trainable: ReadonlySet<Value>,
): { slots: BufferSlot[]; outputs: { name: string; value: Value }[] } {
  const slots: BufferSlot[] = [];
  const outputs: { name: string; value: Value }[] = [];
  for (const { param, next } of buffers) {
    const entry = g.params.get(param.name);
    if (!entry || entry.value !== param) throw new Error(`buildTrainStep: buffer ${param.name} is not a parameter of the loss's graph`);
    if (trainable.has(param)) throw new Error(`buildTrainStep: ${param.name} is both trainable and a buffer`);
    if (next.graph !== g || next.dtype !== param.dtype || next.shape.join() !== param.shape.join()) {
      throw new Error(`buildTrainStep: the next value of buffer ${param.name} is ${next}, not like ${param}`);
    }
    const shape = param.shape as number[];
    slots.push({ name: param.name, value: param, buf: new DoubleBuffer(param.dtype, shape, shape, coerce(entry.tensor, param.dtype)) });
    outputs.push({ name: TRAIN_IO.nextBuffer(param.name), value: next });
  }
  return { slots, outputs };
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
    if (!entry || (typeof p !== 'string' && entry.value !== p))
      throw new Error(`buildTrainStep: ${name} is not a parameter of the loss's graph`);
    if (!isFloatDtype(entry.value.dtype)) throw new Error(`buildTrainStep: ${name} is not floating point`);
    return entry.value;
  });
  const used = dependsOn(loss, out);
  const unused = out.filter((_, i) => !used[i]).map((v) => v.name);
  if (unused.length) throw new Error(`buildTrainStep: the loss does not depend on ${unused.join(', ')}`);
  for (const v of out) if (!isStatic(v.shape)) throw new Error(`parameter ${v.name} has a symbolic shape ${shapeToString(v.shape)}`);
  return out;
}
