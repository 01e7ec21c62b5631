/**
 * PyTorch checkpoints (torch.save zip format) without Python.
 *
 * Loading reads the file once into a Buffer, parses the zip, runs `<archive>/data.pkl` through the
 * restricted unpickler, resolves storages to `<archive>/data/<key>` entries and returns tensors as
 * zero-copy typed-array views into that Buffer (copies only for non-contiguous or misaligned views).
 * Saving writes a zip PyTorch can load (also with `weights_only=True`).
 */
import { ClapError } from '../errors.js';
import { BYTES_PER_ELEMENT, type AnyTypedArray, type DType, type HostTensor } from '../engine/tensor.js';
import { PickleWriter } from './pickle-writer.js';
import { assertTensor, toStateDict, type Checkpoint, type StateDict, type StateDictLike } from './state-dict.js';
import { PyDict, PyGlobal, StorageRef, TensorRef, isTuple, typeName, unpickle, type PyValue } from './unpickle.js';
import {
  asClapError,
  assertLittleEndianHost,
  bytesOf,
  checkedNumel,
  fmtShape,
  quote,
  readWholeFile,
  safeName,
  TYPED_ARRAY_OF,
  typedView,
  writeFileAtomic,
} from './util.js';
import { buildZip, readZip, zipEntryData, type ZipArchive, type ZipEntry, type ZipInput } from './zip.js';

export interface PthLoadOptions {
  /**
   * Top-level key holding the state dict. By default `model`, `state_dict` and `model_state_dict`
   * wrappers are unwrapped (repeatedly) when the top level holds no tensors itself.
   */
  key?: string;
  /** Check the CRC-32 of every tensor entry too (data.pkl is always checked). Costs about a second per GB. */
  verifyCrc?: boolean;
}

const WRAPPER_KEYS = ['model', 'state_dict', 'model_state_dict'];
const MAX_NESTING = 16;

/** Loads a torch.save checkpoint: flat name → tensor map. */
export async function loadPth(path: string, opts: PthLoadOptions = {}): Promise<StateDict> {
  return (await loadPthCheckpoint(path, opts)).tensors;
}

/** Loads a torch.save checkpoint with its non-tensor metadata. */
export async function loadPthCheckpoint(path: string, opts: PthLoadOptions = {}): Promise<Checkpoint> {
  return readPth(await readWholeFile(path), path, opts);
}

/**
 * Parses a torch.save checkpoint held in `buf` (the tensors are views into `buf`; keep it alive,
 * do not reuse it). `file` names the source in errors.
 */
export function readPth(buf: Uint8Array, file = '<buffer>', opts: PthLoadOptions = {}): Checkpoint {
  return asClapError(file, 'cannot read PyTorch checkpoint', () => parsePth(buf, file, opts));
}

function parsePth(buf: Uint8Array, file: string, opts: PthLoadOptions): Checkpoint {
  assertLittleEndianHost(file);
  const fail = (msg: string): never => {
    throw new ClapError(msg, { subject: file });
  };
  if (buf.length === 0) fail('file is empty (0 bytes), expected a PyTorch checkpoint');
  if (buf[0] === 0x80 && buf.length > 1 && buf[1] <= 5) {
    fail('legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with torch.save in PyTorch >= 1.6');
  }
  const zip = readZip(buf, file);
  const { prefix, pkl } = findDataPkl(zip, fail);

  const byteorder = zip.entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = Buffer.from(zipEntryData(zip, byteorder)).toString('latin1').trim();
    if (order !== 'little') fail(`checkpoint byte order is ${quote(order)}; only little-endian checkpoints are supported`);
  }

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PyValue): PyValue => {
    if (!isTuple(pid) || pid.length !== 5 || pid[0] !== 'storage') {
      return fail(
        `data.pkl: unsupported persistent id (${typeName(pid)}${isTuple(pid) ? ` of ${pid.length}` : ''}), ` +
          "expected ('storage', type, key, location, numel)",
      );
    }
    const [, type, rawKey, , rawNumel] = pid;
    if (!(type instanceof PyGlobal) || (type.kind !== 'storage' && type.kind !== 'dtype') || !type.dtype) {
      return fail(`data.pkl: storage type is a ${typeName(type)}, expected a torch storage type`);
    }
    if (typeof rawKey !== 'string' && typeof rawKey !== 'number') return fail(`data.pkl: storage key is a ${typeName(rawKey)}`);
    const key = String(rawKey);
    if (typeof rawNumel !== 'number' || !Number.isSafeInteger(rawNumel) || rawNumel < 0) {
      return fail(`data.pkl: storage ${quote(key)} has an invalid element count (${typeName(rawNumel)})`);
    }
    const dtype = type.dtype;
    const cached = storages.get(key);
    if (cached) {
      if (cached.dtype !== dtype || cached.numel !== rawNumel) {
        fail(`data.pkl: storage ${quote(key)} is used as ${cached.numel} × ${cached.dtype} and as ${rawNumel} × ${dtype}`);
      }
      return cached;
    }
    const entry = zip.entries.get(`${prefix}data/${key}`);
    if (!entry) return fail(`storage ${quote(key)} has no entry ${quote(`${prefix}data/${key}`)} in the archive`);
    const want = rawNumel * BYTES_PER_ELEMENT[dtype];
    if (entry.size !== want) {
      fail(`storage ${quote(key)} holds ${entry.size} bytes but data.pkl says ${rawNumel} × ${dtype} = ${want} bytes`);
    }
    const ref = new StorageRef(key, dtype, rawNumel, zipEntryData(zip, entry, { verifyCrc: opts.verifyCrc }));
    storages.set(key, ref);
    return ref;
  };
  const root = unpickle(zipEntryData(zip, pkl, { verifyCrc: true }), { file, what: safeName(pkl.name), persistentLoad });

  const metadata: Record<string, unknown> = {};
  const sd = selectStateDict(root, opts.key, metadata, fail);
  const materializer = new Materializer(file, buf.length);
  const tensors: StateDict = new Map();
  flatten(sd, '', 0, tensors, metadata, materializer, fail);
  const meta = sd.attrs?.get('_metadata');
  if (meta !== undefined) metadata._metadata = toPlain(meta, 0, new Set());
  return { tensors, metadata, format: 'pth' };
}

function findDataPkl(zip: ZipArchive, fail: (msg: string) => never): { prefix: string; pkl: ZipEntry } {
  const candidates = [...zip.entries.values()].filter((e) => /^[^/]+\/data\.pkl$/.test(e.name));
  if (candidates.length === 1) return { prefix: candidates[0].name.slice(0, -'data.pkl'.length), pkl: candidates[0] };
  if (candidates.length > 1)
    return fail(`archive holds several checkpoints (${candidates.map((c) => quote(c.name)).join(', ')}); expected one <archive>/data.pkl`);
  const names = [...zip.entries.keys()];
  if (names.some((n) => /^[^/]+\/(code\/|constants\.pkl$)/.test(n))) {
    return fail(
      'zip has no <archive>/data.pkl: this looks like a TorchScript archive (torch.jit.save), not a state dict saved with torch.save',
    );
  }
  return fail(
    'zip has no <archive>/data.pkl, so it is not a torch.save checkpoint ' +
      `(${names.length} entries${names.length ? `, first ${quote(names[0])}` : ''})`,
  );
}

function selectStateDict(root: PyValue, key: string | undefined, metadata: Record<string, unknown>, fail: (msg: string) => never): PyDict {
  if (root instanceof TensorRef) return fail('checkpoint holds a single tensor, not a state dict');
  if (!(root instanceof PyDict)) return fail(`checkpoint holds a ${typeName(root)}, expected a dict (state dict)`);
  let cur: PyDict = root;
  const takeSiblings = (d: PyDict, chosen: string): void => {
    for (const [k, v] of d) if (k !== chosen) metadata[String(k)] = toPlain(v, 0, new Set());
  };
  if (key !== undefined) {
    const inner = cur.get(key);
    if (!(inner instanceof PyDict)) return fail(`checkpoint has no dict under key ${quote(key)} (top-level keys: ${listKeys(cur)})`);
    takeSiblings(cur, key);
    return inner;
  }
  for (let depth = 0; depth < 4; depth++) {
    if ([...cur.values()].some((v) => v instanceof TensorRef)) break;
    const k = WRAPPER_KEYS.find((w) => cur.get(w) instanceof PyDict);
    if (k === undefined) break;
    takeSiblings(cur, k);
    cur = cur.get(k) as PyDict;
  }
  return cur;
}

function listKeys(d: PyDict): string {
  const keys = [...d.keys()].slice(0, 8).map((k) => quote(String(k), 40));
  return keys.length ? keys.join(', ') + (d.size > 8 ? ', …' : '') : 'none';
}

function flatten(
  d: PyDict,
  prefix: string,
  depth: number,
  out: StateDict,
  metadata: Record<string, unknown>,
  m: Materializer,
  fail: (msg: string) => never,
): void {
  if (depth > MAX_NESTING) fail(`state dict nests deeper than ${MAX_NESTING} levels`);
  for (const [k, v] of d) {
    if (typeof k !== 'string' && typeof k !== 'number') fail(`state dict key is a ${typeName(k)}, expected a str`);
    const name = prefix + String(k);
    if (v instanceof TensorRef) {
      if (out.has(name)) fail(`tensor name ${quote(name)} appears twice after flattening nested dicts`);
      out.set(name, m.materialize(v, name));
    } else if (v instanceof PyDict && [...v.values()].some((x) => x instanceof TensorRef || x instanceof PyDict)) {
      flatten(v, `${name}.`, depth + 1, out, metadata, m, fail);
    } else {
      metadata[name] = toPlain(v, 0, new Set());
    }
  }
}

/** A JSON-like copy of a non-tensor pickled value (bounded depth, cycles cut). */
function toPlain(v: PyValue, depth: number, seen: Set<object>): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return new Uint8Array(v); // a copy: do not pin the file buffer
  if (v instanceof TensorRef) return `<tensor ${v.dtype} ${fmtShape(v.size)}>`;
  if (v instanceof StorageRef) return `<storage ${v.dtype} ${v.numel}>`;
  if (v instanceof PyGlobal) return `<${v.qualname}>`;
  if (depth > MAX_NESTING || seen.has(v)) return '<…>';
  seen.add(v);
  try {
    if (Array.isArray(v)) return (v as readonly PyValue[]).map((x) => toPlain(x, depth + 1, seen));
    return Object.fromEntries([...(v as PyDict)].map(([k, x]) => [String(toPlain(k, depth + 1, seen)), toPlain(x, depth + 1, seen)]));
  } finally {
    seen.delete(v);
  }
}

/** Turns TensorRefs into HostTensors: views when contiguous and aligned, copies otherwise. */
class Materializer {
  private copied = 0;
  private cache = new Map<string, AnyTypedArray>();

  constructor(
    private readonly file: string,
    private readonly copyBudget: number,
  ) {}

  private fail(msg: string): never {
    throw new ClapError(msg, { subject: this.file });
  }

  materialize(t: TensorRef, name: string): HostTensor {
    const { storage, offset, size, stride } = t;
    const dtype = storage.dtype;
    const where = `tensor ${quote(name)}`;
    const n = checkedNumel(size);
    if (n === undefined) return this.fail(`${where}: invalid size ${fmtShape(size)}`);
    const shape = [...size];
    if (n === 0) return { dtype, shape, data: new TYPED_ARRAY_OF[dtype](0) };
    // Highest element index the view touches must lie inside the storage.
    let last = offset;
    for (let i = 0; i < size.length; i++) last += (size[i] - 1) * stride[i];
    if (!Number.isSafeInteger(last) || last >= storage.numel) {
      return this.fail(
        `${where} (${dtype} ${fmtShape(size)}, offset ${offset}, stride ${fmtShape(stride)}) reaches element ${last} ` +
          `but storage ${quote(storage.key)} holds only ${storage.numel} elements`,
      );
    }
    const itemsize = BYTES_PER_ELEMENT[dtype];
    if (isContiguous(size, stride)) return { dtype, shape, data: typedView(storage.bytes, offset * itemsize, n, dtype) };

    const cacheKey = `${storage.key}|${offset}|${size.join(',')}|${stride.join(',')}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return { dtype, shape, data: hit };
    const bytes = n * itemsize;
    this.copied += bytes;
    if (this.copied > this.copyBudget) {
      return this.fail(
        `${where}: strided (${fmtShape(stride)}) views would need ${this.copied} bytes of copies, more than the file itself`,
      );
    }
    const data = gather(storage, offset, size, stride, n);
    this.cache.set(cacheKey, data);
    return { dtype, shape, data };
  }
}

function isContiguous(size: readonly number[], stride: readonly number[]): boolean {
  let expect = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    if (size[i] !== 1 && stride[i] !== expect) return false;
    expect *= size[i];
  }
  return true;
}

/** Copies a strided view into a new C-order array, moving elements as 8/16/32-bit words (bit-exact, NaNs included). */
function gather(storage: StorageRef, offset: number, size: readonly number[], stride: readonly number[], n: number): AnyTypedArray {
  const itemsize = BYTES_PER_ELEMENT[storage.dtype];
  const word = Math.min(itemsize, 4);
  const per = itemsize / word; // words per element
  const out = new ArrayBuffer(n * itemsize);
  const W = word === 1 ? Uint8Array : word === 2 ? Uint16Array : Uint32Array;
  const srcBytes = storage.bytes;
  const src =
    srcBytes.byteOffset % word === 0
      ? new W(srcBytes.buffer as ArrayBuffer, srcBytes.byteOffset, srcBytes.byteLength / word)
      : new W(new Uint8Array(srcBytes).buffer, 0, srcBytes.byteLength / word); // (Buffer#slice would not copy)
  const dst = new W(out);
  const nd = size.length;
  const inner = size[nd - 1];
  const innerStride = stride[nd - 1] * per;
  const idx = new Array<number>(nd).fill(0);
  let base = offset * per;
  let o = 0;
  for (let row = 0, rows = n / inner; row < rows; row++) {
    let p = base;
    if (per === 1) {
      for (let j = 0; j < inner; j++, p += innerStride) dst[o++] = src[p];
    } else {
      for (let j = 0; j < inner; j++, p += innerStride) {
        dst[o++] = src[p];
        dst[o++] = src[p + 1];
      }
    }
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++;
      base += stride[d] * per;
      if (idx[d] < size[d]) break;
      base -= stride[d] * size[d] * per;
      idx[d] = 0;
    }
  }
  return new TYPED_ARRAY_OF[storage.dtype](out, 0, n);
}

// ---------------------------------------------------------------- saving

const STORAGE_NAME: Record<DType, string> = {
  float32: 'FloatStorage',
  float64: 'DoubleStorage',
  float16: 'HalfStorage',
  bfloat16: 'BFloat16Storage',
  int64: 'LongStorage',
  int32: 'IntStorage',
  int8: 'CharStorage',
  uint8: 'ByteStorage',
  bool: 'BoolStorage',
};

export interface PthSaveOptions {
  /** Key the state dict is stored under (default `'model'`, as msclap's checkpoints); `null` saves the bare state dict. */
  wrap?: string | null;
  /**
   * Extra top-level scalar entries beside the wrapped state dict (e.g. `{ epoch: 10 }`). Note: PyTorch 1.13's
   * `weights_only=True` loader rejects non-integer numbers (BINFLOAT); strings, ints, booleans and null load everywhere.
   */
  extra?: Readonly<Record<string, string | number | boolean | null>>;
  /** Folder name inside the zip (default `'archive'`, as PyTorch 2 writes). */
  archiveName?: string;
}

/**
 * Encodes `sd` in torch.save's zip format as chunks to write back to back (tensor data is referenced,
 * not copied). Tensors that share the same memory (e.g. tied embeddings) share one storage.
 */
export function encodePthChunks(sd: StateDictLike, opts: PthSaveOptions = {}, file = '<buffer>'): Uint8Array[] {
  const tensors = toStateDict(sd);
  const wrap = opts.wrap === undefined ? 'model' : opts.wrap;
  const arch = opts.archiveName ?? 'archive';
  if (!/^[A-Za-z0-9_.-]+$/.test(arch) || arch === '.' || arch === '..') {
    throw new ClapError(`archive name ${quote(arch)} must be a plain folder name`, { subject: file });
  }
  if (opts.extra && wrap === null)
    throw new ClapError('extra top-level entries need a wrapped state dict (wrap is null)', { subject: file });

  const p = new PickleWriter();
  if (wrap !== null) {
    p.emptyDict();
    p.str(wrap);
  }
  p.global('collections', 'OrderedDict').emptyTuple().reduce();

  // Storages: one per distinct (memory region, dtype); tied tensors share theirs.
  const storageKeys = new Map<ArrayBufferLike, Map<string, string>>();
  const entries: ZipInput[] = [];
  const dataEntries: ZipInput[] = [];
  let inBatch = 0;
  for (const [name, t] of tensors) {
    assertTensor(name, t, file);
    const n = t.data.length;
    const region = `${t.dtype}|${t.data.byteOffset}|${t.data.byteLength}`;
    let byBuffer = storageKeys.get(t.data.buffer);
    if (!byBuffer) storageKeys.set(t.data.buffer, (byBuffer = new Map()));
    let key = byBuffer.get(region);
    if (key === undefined) {
      key = String(dataEntries.length);
      byBuffer.set(region, key);
      dataEntries.push({ name: `${arch}/data/${key}`, data: bytesOf(t.data) });
    }
    if (inBatch === 0) p.mark();
    p.str(name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.mark();
    p.mark().str('storage', true).global('torch', STORAGE_NAME[t.dtype]).str(key).str('cpu', true).int(n).tuple().binpersid();
    p.int(0).ints(t.shape).ints(contiguousStrides(t.shape)).bool(false);
    p.global('collections', 'OrderedDict').emptyTuple().reduce();
    p.tuple().reduce();
    if (++inBatch === 1000) {
      p.setitems();
      inBatch = 0;
    }
  }
  if (inBatch > 0) p.setitems();
  if (wrap !== null) {
    p.setitem();
    for (const [k, v] of Object.entries(opts.extra ?? {})) {
      if (k === wrap) throw new ClapError(`extra entry ${quote(k)} clashes with the state dict key`, { subject: file });
      p.str(k).scalar(v).setitem();
    }
  }
  p.stop();

  entries.push({ name: `${arch}/data.pkl`, data: p.finish() });
  entries.push({ name: `${arch}/byteorder`, data: new TextEncoder().encode('little') });
  for (const e of dataEntries) entries.push(e);
  entries.push({ name: `${arch}/version`, data: new TextEncoder().encode('3\n') });
  return buildZip(entries, { align: 64 });
}

/** `encodePthChunks` joined into one Buffer. */
export function encodePth(sd: StateDictLike, opts: PthSaveOptions = {}): Buffer {
  return Buffer.concat(encodePthChunks(sd, opts));
}

/** Writes `sd` as a torch.save checkpoint at `path`, atomically (temporary file, then rename). */
export async function savePth(path: string, sd: StateDictLike, opts: PthSaveOptions = {}): Promise<void> {
  await writeFileAtomic(path, encodePthChunks(sd, opts, path));
}

export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}
