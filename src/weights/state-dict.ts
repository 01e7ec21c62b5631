/**
 * State dicts: name → HostTensor maps as loaded from checkpoints, and the checks models run on them.
 */
import { createHash } from 'node:crypto';
import { ClapError } from '../errors.js';
import { BYTES_PER_ELEMENT, numel, type DType, type HostTensor } from '../engine/tensor.js';
import { fmtShape, isArrayFor, quote } from './util.js';

/** Tensors by parameter name, in checkpoint order. */
export type StateDict = Map<string, HostTensor>;

/** What the save functions and checks accept: a StateDict or a plain record. */
export type StateDictLike = ReadonlyMap<string, HostTensor> | Readonly<Record<string, HostTensor>>;

/** A loaded weight file: its tensors and any non-tensor metadata it carried. */
export interface Checkpoint {
  tensors: StateDict;
  /**
   * Non-tensor values: for .pth, top-level entries beside the state dict (e.g. `epoch`), non-tensor
   * values inside it, and the state dict's `_metadata` (module versions); for .safetensors, `__metadata__`.
   */
  metadata: Record<string, unknown>;
  format: 'pth' | 'safetensors';
}

/** A StateDict view of `sd` (the same Map when it already is one). */
export function toStateDict(sd: StateDictLike): StateDict {
  if (sd instanceof Map) return sd as StateDict;
  if (isReadonlyMap(sd)) return new Map(sd);
  return new Map(Object.entries(sd));
}

function isReadonlyMap(sd: StateDictLike): sd is ReadonlyMap<string, HostTensor> {
  return (
    typeof (sd as ReadonlyMap<string, HostTensor>).get === 'function' &&
    typeof (sd as ReadonlyMap<string, HostTensor>).entries === 'function'
  );
}

/** The tensor `name` of `sd`, if any (no copy of a record). */
export function lookup(sd: StateDictLike, name: string): HostTensor | undefined {
  if (isReadonlyMap(sd)) return sd.get(name);
  const rec = sd as Readonly<Record<string, HostTensor>>;
  return Object.hasOwn(rec, name) ? rec[name] : undefined;
}

/** The entries of `sd` whose names start with `prefix`, with the prefix removed. */
export function withPrefix(sd: StateDictLike, prefix: string): StateDict {
  const out: StateDict = new Map();
  for (const [name, t] of toStateDict(sd)) if (name.startsWith(prefix)) out.set(name.slice(prefix.length), t);
  return out;
}

/** Checks that `t` is well-formed (dtype known, data the right typed array and length); throws naming `name`. */
export function assertTensor(name: string, t: HostTensor, file?: string): void {
  const where = file ? { subject: file } : {};
  if (!t || typeof t !== 'object') throw new ClapError(`tensor ${quote(name)} is not a tensor`, where);
  if (!Object.hasOwn(BYTES_PER_ELEMENT, t.dtype))
    throw new ClapError(`tensor ${quote(name)} has unknown dtype ${quote(String(t.dtype))}`, where);
  if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new ClapError(`tensor ${quote(name)} has an invalid shape ${quote(String(t.shape))}`, where);
  }
  if (!isArrayFor(t.dtype, t.data)) {
    throw new ClapError(
      `tensor ${quote(name)}: ${t.dtype} data must be a ${dataTypeName(t.dtype)}, got ${t.data?.constructor?.name ?? typeof t.data}`,
      where,
    );
  }
  const n = numel(t.shape);
  if (t.data.length !== n)
    throw new ClapError(`tensor ${quote(name)}: shape ${fmtShape(t.shape)} needs ${n} elements but data has ${t.data.length}`, where);
}

function dataTypeName(d: DType): string {
  return {
    float32: 'Float32Array',
    float64: 'Float64Array',
    float16: 'Uint16Array',
    bfloat16: 'Uint16Array',
    int64: 'BigInt64Array',
    int32: 'Int32Array',
    int8: 'Int8Array',
    uint8: 'Uint8Array',
    bool: 'Uint8Array',
  }[d];
}

// ---------------------------------------------------------------- checking against a model

/** A tensor a model expects. `-1` in `shape` matches any size; `dtype` may list several accepted types. */
export interface ExpectedTensor {
  name: string;
  shape: readonly number[];
  dtype?: DType | readonly DType[];
}

/** Names matching these are GPT-2 causal-mask buffers older transformers saved; loading may ignore them. */
export const GPT2_HARMLESS_UNEXPECTED: readonly RegExp[] = [/(^|\.)attn\.bias$/, /(^|\.)attn\.masked_bias$/];

export interface CheckOptions {
  /** Unexpected names to ignore: exact names, patterns, or a predicate. */
  ignoreUnexpected?: readonly (string | RegExp)[] | ((name: string) => boolean);
  /** Report but do not fail on unexpected names (default false: they fail the check). */
  allowUnexpected?: boolean;
  /** Missing names to tolerate (exact names or patterns). */
  allowMissing?: readonly (string | RegExp)[];
  /** File named in the error. */
  file?: string;
  /** Throw a ClapError when the check fails (default true); otherwise just return the report. */
  throwOnError?: boolean;
}

export interface ShapeMismatch {
  name: string;
  expected: readonly number[];
  actual: readonly number[];
}
export interface DTypeMismatch {
  name: string;
  expected: readonly DType[];
  actual: DType;
}

export interface CheckReport {
  ok: boolean;
  missing: string[];
  unexpected: string[];
  /** Unexpected names that were ignored by `ignoreUnexpected`. */
  ignored: string[];
  shapeMismatches: ShapeMismatch[];
  dtypeMismatches: DTypeMismatch[];
  /** The one-line summary used as the error message ('' when ok). */
  message: string;
}

function matches(name: string, rules: readonly (string | RegExp)[] | ((n: string) => boolean) | undefined): boolean {
  if (!rules) return false;
  if (typeof rules === 'function') return rules(name);
  return rules.some((r) => (typeof r === 'string' ? r === name : r.test(name)));
}

export function shapeMatches(expected: readonly number[], actual: readonly number[]): boolean {
  return expected.length === actual.length && expected.every((d, i) => d === -1 || d === actual[i]);
}

function listNames(names: readonly string[], max = 8): string {
  const shown = names.slice(0, max).join(', ');
  return names.length > max ? `${shown}, … and ${names.length - max} more` : shown;
}

/**
 * Compares `sd` with what a model expects. Returns the report; when something is missing, unexpected
 * (and not ignored or allowed), or has the wrong shape or dtype, throws a one-line ClapError naming
 * the keys (unless `throwOnError: false`).
 */
export function checkStateDict(sd: StateDictLike, expected: readonly ExpectedTensor[], opts: CheckOptions = {}): CheckReport {
  const tensors = toStateDict(sd);
  const wanted = new Set<string>();
  const missing: string[] = [];
  const shapeMismatches: ShapeMismatch[] = [];
  const dtypeMismatches: DTypeMismatch[] = [];
  for (const e of expected) {
    wanted.add(e.name);
    const t = tensors.get(e.name);
    if (!t) {
      if (!matches(e.name, opts.allowMissing)) missing.push(e.name);
      continue;
    }
    if (!shapeMatches(e.shape, t.shape)) shapeMismatches.push({ name: e.name, expected: e.shape, actual: t.shape });
    if (e.dtype !== undefined) {
      const ok = typeof e.dtype === 'string' ? [e.dtype] : e.dtype;
      if (!ok.includes(t.dtype)) dtypeMismatches.push({ name: e.name, expected: ok, actual: t.dtype });
    }
  }
  const unexpected: string[] = [];
  const ignored: string[] = [];
  for (const name of tensors.keys()) {
    if (wanted.has(name)) continue;
    if (matches(name, opts.ignoreUnexpected)) ignored.push(name);
    else unexpected.push(name);
  }
  const parts: string[] = [];
  if (missing.length) parts.push(`${missing.length} missing (${listNames(missing)})`);
  if (unexpected.length && !opts.allowUnexpected) parts.push(`${unexpected.length} unexpected (${listNames(unexpected)})`);
  if (shapeMismatches.length) {
    parts.push(
      `${shapeMismatches.length} shape mismatch${shapeMismatches.length > 1 ? 'es' : ''} (${listNames(
        shapeMismatches.map((m) => `${m.name}: expected ${fmtShape(m.expected)}, got ${fmtShape(m.actual)}`),
        4,
      )})`,
    );
  }
  if (dtypeMismatches.length) {
    parts.push(
      `${dtypeMismatches.length} dtype mismatch${dtypeMismatches.length > 1 ? 'es' : ''} (${listNames(
        dtypeMismatches.map((m) => `${m.name}: expected ${m.expected.join('|')}, got ${m.actual}`),
        4,
      )})`,
    );
  }
  const ok = parts.length === 0;
  const message = ok ? '' : `weights do not match the model: ${parts.join('; ')}`;
  const report: CheckReport = { ok, missing, unexpected, ignored, shapeMismatches, dtypeMismatches, message };
  if (!ok && opts.throwOnError !== false) throw new ClapError(message, opts.file ? { subject: opts.file } : {});
  return report;
}

export interface TakeOptions {
  /** Accepted dtypes. */
  dtype?: DType | readonly DType[];
  /** File named in the error. */
  file?: string;
}

/**
 * The tensor `name` of `sd`, checked against `shape` (`-1` matches any size) when given. Throws a
 * ClapError naming the key when it is absent or has another shape or dtype.
 */
export function take(sd: StateDictLike, name: string, shape?: readonly number[], opts: TakeOptions = {}): HostTensor {
  const where = opts.file ? { subject: opts.file } : {};
  const t = lookup(sd, name);
  if (!t) throw new ClapError(`weights have no tensor ${quote(name)}`, where);
  if (shape && !shapeMatches(shape, t.shape)) {
    throw new ClapError(`tensor ${quote(name)} has shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`, where);
  }
  if (opts.dtype !== undefined) {
    const ok = typeof opts.dtype === 'string' ? [opts.dtype] : opts.dtype;
    if (!ok.includes(t.dtype)) throw new ClapError(`tensor ${quote(name)} is ${t.dtype}, expected ${ok.join(' or ')}`, where);
  }
  return t;
}

/**
 * sha256 of a state dict: tensor names in order, dtype, shape and bytes — the identity of a model's
 * weights whatever file format holds them (a .pth and its .safetensors agree).
 */
export function hashStateDict(weights: StateDictLike): string {
  const h = createHash('sha256');
  const entries: [string, { dtype: string; shape: readonly number[]; data: ArrayBufferView }][] =
    weights instanceof Map
      ? [...weights.entries()]
      : Object.entries(weights as Record<string, { dtype: string; shape: number[]; data: ArrayBufferView }>);
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (const [name, t] of entries) {
    h.update(`${name}\u0000${t.dtype}\u0000${t.shape.join(',')}\u0000`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}
