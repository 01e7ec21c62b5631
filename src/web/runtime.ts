/**
 * onnxruntime-web for the exported models: WASM (SIMD; threads when the page is cross-origin isolated) or
 * WebGPU when asked for and the browser has it (otherwise WASM, said in `backend`). onnxruntime-web's own
 * .wasm/.mjs files are fetched from `wasmPaths`: by default the ort/ folder beside the clap-ts/web bundle.
 */
import * as ort from 'onnxruntime-web';
import { ClapError } from '../errors.js';

export type Device = 'wasm' | 'webgpu';

export interface RuntimeOptions {
  /** 'wasm' (default) or 'webgpu' (falls back to WASM where the browser has no WebGPU). */
  device?: Device;
  /** WASM threads, used only where the page is cross-origin isolated (default: onnxruntime-web's choice). */
  threads?: number;
  /** URL prefix of onnxruntime-web's ort-wasm-*.{mjs,wasm} files (default: ort/ beside the clap-ts/web bundle). */
  wasmPaths?: string;
}

/** ort/ beside this module when it is served over HTTP (the shipped bundle, dist/web/clap.js); none in Node. */
function defaultWasmPaths(): string | undefined {
  const here = import.meta.url;
  return here.startsWith('http') ? new URL('./ort/', here).href : undefined;
}

/** The backend a session gets for `device` here. */
export function backendFor(device: Device = 'wasm'): Device {
  if (device !== 'wasm' && device !== 'webgpu')
    throw new ClapError(`unknown device '${String(device)}' (expected wasm or webgpu)`, { subject: 'device' });
  const gpu = (globalThis.navigator as { gpu?: unknown } | undefined)?.gpu;
  return device === 'webgpu' && gpu ? 'webgpu' : 'wasm';
}

/** Applies the process-wide settings (onnxruntime-web has one environment per page). */
export function configureRuntime(options: RuntimeOptions): void {
  const paths = options.wasmPaths ?? defaultWasmPaths();
  if (paths !== undefined) ort.env.wasm.wasmPaths = paths;
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1)
      throw new ClapError(`threads must be a positive integer (got ${options.threads})`, { subject: 'threads' });
    ort.env.wasm.numThreads = options.threads;
  }
}

export type Session = ort.InferenceSession;

/** A session of one exported model. `file` names it in errors. */
export async function createSession(bytes: Uint8Array, backend: Device, file: string): Promise<Session> {
  try {
    return await ort.InferenceSession.create(bytes, { executionProviders: [backend], graphOptimizationLevel: 'all' });
  } catch (e) {
    throw new ClapError(`onnxruntime-web cannot load it on ${backend} (${(e as Error).message})`, { subject: file });
  }
}

/** Runs of any session, one at a time: onnxruntime-web's WASM backend does not run two at once. */
let running: Promise<unknown> = Promise.resolve();

/** A model input: float32, int64, or bool (one byte each, 0 or 1). */
export type Feeds = Record<string, { data: Float32Array | BigInt64Array | Uint8Array; dims: number[] }>;

const tensorOf = ({ data, dims }: Feeds[string]): ort.Tensor =>
  data instanceof Float32Array
    ? new ort.Tensor('float32', data, dims)
    : data instanceof BigInt64Array
      ? new ort.Tensor('int64', data, dims)
      : new ort.Tensor('bool', data, dims);

/** Runs `session` on `feeds` (after any run in progress); the named output's data. */
export function runModel(session: Session, feeds: Feeds, output: string): Promise<Float32Array> {
  const tensors: Record<string, ort.Tensor> = {};
  for (const [name, f] of Object.entries(feeds)) tensors[name] = tensorOf(f);
  const result = running.then(async () => (await session.run(tensors))[output].data as Float32Array);
  running = result.catch(() => undefined);
  return result;
}
