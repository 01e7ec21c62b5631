/**
 * Host side of the WebAssembly SIMD kernels in dsp.as.ts: one instance per thread, its linear memory
 * laid out afresh for each call (input, tables, scratch, output) and grown as needed.
 */
import { ClapError } from '../errors.js';
import { DSP_WASM_BASE64 } from './dsp-wasm.js';

interface DspExports {
  stftPower(
    x: number,
    hop: number,
    frames: number,
    n: number,
    win: number,
    plan: number,
    re: number,
    im: number,
    pair: number,
    out: number,
  ): void;
  melPower(
    x: number,
    hop: number,
    frames: number,
    n: number,
    win: number,
    plan: number,
    re: number,
    im: number,
    pair: number,
    bins: number,
    nMels: number,
    start: number,
    count: number,
    offset: number,
    weights: number,
    out: number,
  ): void;
  resampleBlocks(
    x: number,
    blocks: number,
    orig: number,
    newFreq: number,
    denseTaps: number,
    first: number,
    count: number,
    offset: number,
    taps: number,
    pairs: number,
    out: number,
  ): void;
  decibels(x: number, count: number, amin: number, refDb: number, out: number, uncertain: number): number;
  RESAMPLE_GROUP: WebAssembly.Global;
  heapBase(): number;
}

type ViewType = Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;

/** A stretch of linear memory holding `length` elements of `type`. */
export interface Region<T extends ViewType = ViewType> {
  readonly offset: number;
  readonly length: number;
  readonly type: T;
}

/** The regions of one call: reserve them all, then take views (memory has grown to fit by then). */
export class Layout {
  private end: number;

  constructor(private readonly dsp: Dsp) {
    this.end = dsp.heapBase;
  }

  /** Reserves `length` elements of `type`, 16-byte aligned. */
  reserve<T extends ViewType>(type: T, length: number): Region<T> {
    const offset = this.end;
    this.end += Math.ceil((length * type.BYTES_PER_ELEMENT) / 16) * 16;
    return { offset, length, type };
  }

  /** A view of `region` (valid until memory grows again: take views after the last reserve). */
  view<T extends ViewType>(region: Region<T>): InstanceType<T> {
    this.dsp.fit(this.end);
    return new region.type(this.dsp.memory.buffer, region.offset, region.length) as InstanceType<T>;
  }
}

export class Dsp {
  readonly memory = new WebAssembly.Memory({ initial: 1 });
  readonly kernels: DspExports;
  readonly heapBase: number;
  readonly resampleGroup: number;

  private constructor() {
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(Uint8Array.from(atob(DSP_WASM_BASE64), (c) => c.charCodeAt(0)));
    } catch (e) {
      throw new ClapError(`the audio frontend needs WebAssembly SIMD, which this CPU or Node.js lacks (${(e as Error).message})`);
    }
    this.kernels = new WebAssembly.Instance(module, { env: { memory: this.memory } }).exports as unknown as DspExports;
    this.heapBase = this.kernels.heapBase();
    this.resampleGroup = this.kernels.RESAMPLE_GROUP.value as number;
  }

  /** Grows linear memory to at least `bytes`. */
  fit(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65536));
  }

  layout(): Layout {
    return new Layout(this);
  }

  private static instance?: Dsp;
  /** This thread's instance. */
  static get(): Dsp {
    Dsp.instance ??= new Dsp();
    return Dsp.instance;
  }
}
