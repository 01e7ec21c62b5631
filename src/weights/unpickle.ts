/**
 * A restricted pickle virtual machine for PyTorch state dicts.
 *
 * It understands the binary opcodes of protocols 2–5 that torch.save and plain-data pickles use,
 * and resolves GLOBAL/STACK_GLOBAL only against an allow-list of tensor-rebuilding functions,
 * storage types and containers. Nothing is ever executed: allowed globals are interpreted by this
 * module, every other global is refused with a ClapError naming it. Lengths are checked against the
 * bytes that remain, and the stack, memo and nesting are bounded, so hostile input fails fast.
 */
import { ClapError } from '../errors.js';
import type { DType } from '../engine/tensor.js';
import { quote } from './util.js';

// ---------------------------------------------------------------- values

/** Python dict / OrderedDict. Keys are compared as JS Map keys (by value for str/int). */
export class PyDict extends Map<PyValue, PyValue> {
  /** Instance attributes set by BUILD (e.g. a state dict's `_metadata`). */
  attrs?: Map<string, PyValue>;
}

/** A typed storage resolved by the persistent-id loader: `numel` elements of `dtype` in `bytes`. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: DType,
    readonly numel: number,
    readonly bytes: Uint8Array,
  ) {}
}

/** A tensor as pickled: a strided view of a storage, materialised later (lazily, only when used). */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly size: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
  ) {}

  get dtype(): DType {
    return this.storage.dtype;
  }
}

export type GlobalKind =
  | 'OrderedDict'
  | 'dict'
  | 'rebuild_tensor'
  | 'rebuild_tensor_v2'
  | 'rebuild_parameter'
  | 'rebuild_parameter_with_state'
  | 'rebuild_from_type_v2'
  | 'storage'
  | 'dtype'
  | 'tensor_class'
  | 'Size'
  | 'codecs_encode';

/** An allow-listed global, interpreted (never executed) by this VM. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly kind: GlobalKind,
    /** Element type of a storage type or dtype global. */
    readonly dtype?: DType,
  ) {}

  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * A value on the VM's stack. Lists are arrays, tuples are frozen arrays, bytes are Uint8Arrays,
 * ints are numbers when safe and bigints otherwise.
 */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | readonly PyValue[]
  | PyDict
  | PyGlobal
  | StorageRef
  | TensorRef;

export const isTuple = (v: PyValue): v is readonly PyValue[] => Array.isArray(v) && Object.isFrozen(v);
export const isList = (v: PyValue): v is PyValue[] => Array.isArray(v) && !Object.isFrozen(v);

// ---------------------------------------------------------------- allow-list

const STORAGE_TYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

const DTYPES: Record<string, DType> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** Storage types torch can write whose element type this library has no typed array for. */
const UNSUPPORTED_STORAGES = new Set([
  'ShortStorage',
  'ComplexFloatStorage',
  'ComplexDoubleStorage',
  'QInt8Storage',
  'QUInt8Storage',
  'QInt32Storage',
  'QUInt4x2Storage',
  'QUInt2x4Storage',
  'UntypedStorage',
]);

function resolveGlobal(module: string, name: string): PyGlobal | undefined {
  const g = (kind: GlobalKind, dtype?: DType): PyGlobal => new PyGlobal(module, name, kind, dtype);
  switch (`${module}.${name}`) {
    case 'collections.OrderedDict':
      return g('OrderedDict');
    case 'builtins.dict':
    case '__builtin__.dict':
      return g('dict');
    case 'torch._utils._rebuild_tensor':
      return g('rebuild_tensor');
    case 'torch._utils._rebuild_tensor_v2':
      return g('rebuild_tensor_v2');
    case 'torch._utils._rebuild_parameter':
      return g('rebuild_parameter');
    case 'torch._utils._rebuild_parameter_with_state':
      return g('rebuild_parameter_with_state');
    case 'torch._tensor._rebuild_from_type_v2':
      return g('rebuild_from_type_v2');
    case 'torch.Tensor':
    case 'torch._tensor.Tensor':
    case 'torch.nn.parameter.Parameter':
    case 'torch.nn.Parameter':
      return g('tensor_class');
    case 'torch.Size':
      return g('Size');
    case '_codecs.encode':
      return g('codecs_encode');
    default:
      break;
  }
  if (module === 'torch' && Object.hasOwn(STORAGE_TYPES, name)) return g('storage', STORAGE_TYPES[name]);
  if (module === 'torch' && Object.hasOwn(DTYPES, name)) return g('dtype', DTYPES[name]);
  return undefined;
}

// ---------------------------------------------------------------- VM

export interface UnpickleOptions {
  /** File named in errors. */
  file: string;
  /** What the pickle is (e.g. `archive/data.pkl`), named in errors. */
  what?: string;
  /** Resolves BINPERSID ids (torch: ('storage', type, key, location, numel)). Without it, persistent ids are refused. */
  persistentLoad?: (pid: PyValue) => PyValue;
  /** Bound on stack entries (default 1 << 20). */
  maxStack?: number;
  /** Bound on memo entries (default 1 << 20). */
  maxMemo?: number;
}

const MAX_LINE = 512;
const MAX_LONG_BYTES = 1024;

/** Runs the pickle in `data` and returns the value it builds. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): PyValue {
  const what = opts.what ?? 'pickle';
  const maxStack = opts.maxStack ?? 1 << 20;
  const maxMemo = opts.maxMemo ?? 1 << 20;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const end = data.length;
  const utf8 = new TextDecoder('utf-8');
  let pos = 0;
  let op = 0;
  let opAt = 0;
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();

  const fail = (msg: string): never => {
    throw new ClapError(`${what}: ${msg} (opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opAt})`, { subject: opts.file });
  };
  const need = (n: number, thing: string): void => {
    if (n > end - pos) fail(`${thing} needs ${n} bytes but only ${end - pos} remain (truncated or corrupt pickle)`);
  };
  const u8 = (): number => {
    need(1, 'argument');
    return data[pos++];
  };
  const u16 = (): number => {
    need(2, 'argument');
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4, 'argument');
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4, 'argument');
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8, 'argument');
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(end)) fail(`length ${v} exceeds the ${end}-byte pickle`);
    return Number(v);
  };
  const bytes = (n: number, thing: string): Uint8Array => {
    need(n, thing);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const stop = Math.min(end, pos + MAX_LINE);
    let i = pos;
    while (i < stop && data[i] !== 0x0a) i++;
    if (i >= stop) fail(i >= end ? 'unterminated text line (truncated pickle)' : `text line longer than ${MAX_LINE} bytes`);
    const s = utf8.decode(data.subarray(pos, i));
    pos = i + 1;
    return s;
  };
  const push = (v: PyValue): void => {
    if (stack.length >= maxStack) fail(`stack exceeds ${maxStack} entries`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK on the stack');
    return stack.splice(m as number);
  };
  const put = (idx: number): void => {
    if (!memo.has(idx) && memo.size >= maxMemo) fail(`memo exceeds ${maxMemo} entries`);
    memo.set(idx, top());
  };
  const get = (idx: number): void => {
    if (!memo.has(idx)) fail(`memo key ${idx} was never stored`);
    push(memo.get(idx) as PyValue);
  };
  const tuple = (items: PyValue[]): readonly PyValue[] => Object.freeze(items);
  const decodeLong = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const dictOf = (target: PyValue, opName: string): PyDict => {
    if (!(target instanceof PyDict)) fail(`${opName} on a ${typeName(target)}, expected a dict`);
    return target as PyDict;
  };
  const listOf = (target: PyValue, opName: string): PyValue[] => {
    if (!isList(target)) fail(`${opName} on a ${typeName(target)}, expected a list`);
    return target as PyValue[];
  };
  const call = (fn: PyValue, args: PyValue, via: string): PyValue => {
    if (!isTuple(args)) fail(`${via} arguments are a ${typeName(args)}, expected a tuple`);
    if (!(fn instanceof PyGlobal)) fail(`${via} calls a ${typeName(fn)}, which is not callable here`);
    return callGlobal(fn as PyGlobal, args as readonly PyValue[], fail);
  };

  while (true) {
    if (pos >= end) {
      opAt = pos;
      fail('ended without STOP (truncated pickle)');
    }
    opAt = pos;
    op = data[pos++];
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95:
        u64();
        break; // FRAME: framing is transparent to a reader of the whole pickle
      case 0x2e: {
        // STOP
        const result = pop();
        return result;
      }
      case 0x28: // MARK
        if (marks.length >= maxStack) fail('too many nested MARKs');
        marks.push(stack.length);
        break;
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        push(top());
        break; // DUP
      case 0x4e:
        push(null);
        break; // NONE
      case 0x88:
        push(true);
        break; // NEWTRUE
      case 0x89:
        push(false);
        break; // NEWFALSE
      case 0x4a:
        push(i32());
        break; // BININT
      case 0x4b:
        push(u8());
        break; // BININT1
      case 0x4d:
        push(u16());
        break; // BININT2
      case 0x8a: {
        // LONG1
        const n = u8();
        push(decodeLong(bytes(n, 'LONG1')));
        break;
      }
      case 0x8b: {
        // LONG4
        const n = u32();
        if (n > MAX_LONG_BYTES) fail(`LONG4 of ${n} bytes is too large`);
        push(decodeLong(bytes(n, 'LONG4')));
        break;
      }
      case 0x47: {
        // BINFLOAT (big-endian)
        need(8, 'BINFLOAT');
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x58:
        push(utf8.decode(bytes(u32(), 'BINUNICODE')));
        break; // BINUNICODE
      case 0x8c:
        push(utf8.decode(bytes(u8(), 'SHORT_BINUNICODE')));
        break; // SHORT_BINUNICODE
      case 0x8d:
        push(utf8.decode(bytes(u64(), 'BINUNICODE8')));
        break; // BINUNICODE8
      case 0x54: {
        // BINSTRING (Python 2 str)
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        push(Buffer.from(bytes(n, 'BINSTRING')).toString('latin1'));
        break;
      }
      case 0x55:
        push(Buffer.from(bytes(u8(), 'SHORT_BINSTRING')).toString('latin1'));
        break; // SHORT_BINSTRING
      case 0x42:
        push(bytes(u32(), 'BINBYTES'));
        break; // BINBYTES
      case 0x43:
        push(bytes(u8(), 'SHORT_BINBYTES'));
        break; // SHORT_BINBYTES
      case 0x8e:
        push(bytes(u64(), 'BINBYTES8'));
        break; // BINBYTES8
      case 0x96:
        push(bytes(u64(), 'BYTEARRAY8'));
        break; // BYTEARRAY8
      case 0x7d:
        push(new PyDict());
        break; // EMPTY_DICT
      case 0x5d:
        push([]);
        break; // EMPTY_LIST
      case 0x29:
        push(tuple([]));
        break; // EMPTY_TUPLE
      case 0x74:
        push(tuple(popMark()));
        break; // TUPLE
      case 0x85:
        push(tuple([pop()]));
        break; // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      } // TUPLE3
      case 0x6c:
        push(popMark());
        break; // LIST
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2) fail('DICT with an odd number of items');
        const d = new PyDict();
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        push(d);
        break;
      }
      case 0x61: {
        const v = pop();
        listOf(top(), 'APPEND').push(v);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        const l = listOf(top(), 'APPENDS');
        for (const x of items) l.push(x);
        break;
      } // APPENDS
      case 0x73: {
        const v = pop();
        const k = pop();
        dictOf(top(), 'SETITEM').set(k, v);
        break;
      } // SETITEM
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) fail('SETITEMS with an odd number of items');
        const d = dictOf(top(), 'SETITEMS');
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      }
      case 0x71:
        put(u8());
        break; // BINPUT
      case 0x72:
        put(u32());
        break; // LONG_BINPUT
      case 0x94:
        put(memo.size);
        break; // MEMOIZE
      case 0x68:
        get(u8());
        break; // BINGET
      case 0x6a:
        get(u32());
        break; // LONG_BINGET
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        push(lookupGlobal(module, name, fail));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(lookupGlobal(module as string, name as string, fail));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        push(call(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        push(newObject(cls, args, fail));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof PyDict) || kwargs.size) fail('NEWOBJ_EX with keyword arguments is not supported');
        push(newObject(cls, args, fail));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        build(top(), state, fail);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail('persistent id without a loader');
        push((opts.persistentLoad as (p: PyValue) => PyValue)(pid));
        break;
      }
      default:
        fail(`unsupported or disallowed opcode${describeOp(op)}`);
    }
  }
}

function describeOp(op: number): string {
  const names: Record<number, string> = {
    105: 'INST',
    111: 'OBJ',
    80: 'PERSID',
    130: 'EXT1',
    131: 'EXT2',
    132: 'EXT4',
    151: 'NEXT_BUFFER',
    152: 'READONLY_BUFFER',
    73: 'INT',
    76: 'LONG',
    70: 'FLOAT',
    83: 'STRING',
    86: 'UNICODE',
    103: 'GET',
    112: 'PUT',
    143: 'EMPTY_SET',
    144: 'ADDITEMS',
    145: 'FROZENSET',
  };
  return names[op] ? ` ${names[op]}` : '';
}

export function typeName(v: PyValue | undefined): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return isTuple(v) ? 'tuple' : 'list';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PyGlobal) return `global ${v.qualname}`;
  if (v instanceof StorageRef) return 'storage';
  if (v instanceof TensorRef) return 'tensor';
  return 'object';
}

function lookupGlobal(module: string, name: string, fail: (msg: string) => never): PyGlobal {
  const mod = module === '__builtin__' ? 'builtins' : module;
  const g = resolveGlobal(mod, name);
  if (g) return g;
  if (mod === 'torch' && UNSUPPORTED_STORAGES.has(name)) fail(`storage type ${quote(`torch.${name}`)} is not supported`);
  if (mod.startsWith('__torch__')) {
    fail(`refers to global ${quote(`${mod}.${name}`)}: this looks like a TorchScript archive (torch.jit.save), not a state dict`);
  }
  return fail(
    `refers to global ${quote(`${mod}.${name}`)}, which is not allowed (only PyTorch tensor and state-dict globals are); ` +
      'refusing to load, nothing was executed',
  );
}

function asInt(v: PyValue, what: string, fail: (msg: string) => never): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(`${what} is a ${typeName(v)}, expected an int`);
  return v as number;
}

function intTuple(v: PyValue, what: string, fail: (msg: string) => never): number[] {
  if (!Array.isArray(v)) fail(`${what} is a ${typeName(v)}, expected a tuple of ints`);
  const items = v as readonly PyValue[];
  if (items.length > 64) fail(`${what} has ${items.length} dimensions`);
  return items.map((x, i) => {
    const n = asInt(x, `${what}[${i}]`, fail);
    if (n < 0) fail(`${what}[${i}] is negative (${n})`);
    return n;
  });
}

function rebuildTensor(args: readonly PyValue[], fn: string, fail: (msg: string) => never): TensorRef {
  if (args.length < 4) fail(`${fn} takes at least 4 arguments, got ${args.length}`);
  const [storage, offset, size, stride, requiresGrad] = args;
  if (!(storage instanceof StorageRef)) fail(`${fn}: first argument is a ${typeName(storage)}, expected a storage`);
  const off = asInt(offset, `${fn}: storage offset`, fail);
  if (off < 0) fail(`${fn}: negative storage offset ${off}`);
  const sz = intTuple(size, `${fn}: size`, fail);
  const st = intTuple(stride, `${fn}: stride`, fail);
  if (sz.length !== st.length) fail(`${fn}: size has ${sz.length} dimensions but stride has ${st.length}`);
  return new TensorRef(storage as StorageRef, off, sz, st, requiresGrad === true);
}

function callGlobal(fn: PyGlobal, args: readonly PyValue[], fail: (msg: string) => never): PyValue {
  const name = fn.qualname;
  switch (fn.kind) {
    case 'OrderedDict':
    case 'dict': {
      const d = new PyDict();
      if (args.length === 0) return d;
      const src = args[0];
      if (args.length === 1 && src instanceof PyDict) {
        for (const [k, v] of src) d.set(k, v);
        return d;
      }
      if (args.length === 1 && Array.isArray(src)) {
        for (const pair of src as readonly PyValue[]) {
          if (!Array.isArray(pair) || pair.length !== 2) fail(`${name}: items must be (key, value) pairs`);
          const [k, v] = pair as readonly PyValue[];
          d.set(k, v);
        }
        return d;
      }
      return fail(`${name}: unsupported arguments`);
    }
    case 'rebuild_tensor':
    case 'rebuild_tensor_v2':
      return rebuildTensor(args, name, fail);
    case 'rebuild_parameter':
    case 'rebuild_parameter_with_state': {
      const data = args[0];
      if (!(data instanceof TensorRef)) fail(`${name}: first argument is a ${typeName(data)}, expected a tensor`);
      return data;
    }
    case 'rebuild_from_type_v2': {
      // (func, new_type, args, state): func(*args), re-typed to a Tensor subclass we treat as Tensor.
      const [func, newType, inner] = args;
      if (
        !(func instanceof PyGlobal) ||
        !['rebuild_tensor', 'rebuild_tensor_v2', 'rebuild_parameter', 'rebuild_parameter_with_state'].includes(func.kind)
      ) {
        fail(`${name}: first argument is a ${typeName(func)}, expected a tensor rebuild function`);
      }
      if (!(newType instanceof PyGlobal) || newType.kind !== 'tensor_class')
        fail(`${name}: tensor type is a ${typeName(newType)}, expected torch.Tensor or Parameter`);
      if (!isTuple(inner)) fail(`${name}: arguments are a ${typeName(inner)}, expected a tuple`);
      return callGlobal(func as PyGlobal, inner as readonly PyValue[], fail);
    }
    case 'Size': {
      if (args.length === 0) return Object.freeze([]);
      return Object.freeze(intTuple(args[0], name, fail));
    }
    case 'codecs_encode': {
      const [text, encoding] = args;
      if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) fail(`${name}: only (str, 'latin1') is supported`);
      return new Uint8Array(Buffer.from(text as string, 'latin1'));
    }
    default:
      return fail(`${quote(name)} cannot be called here`);
  }
}

function newObject(cls: PyValue, args: PyValue, fail: (msg: string) => never): PyValue {
  if (cls instanceof PyGlobal && (cls.kind === 'OrderedDict' || cls.kind === 'dict')) return new PyDict();
  return fail(`NEWOBJ of a ${typeName(cls)} is not supported${isTuple(args) ? '' : ''}`);
}

function build(target: PyValue, state: PyValue, fail: (msg: string) => never): void {
  if (target instanceof TensorRef) return; // tensor/parameter state (e.g. requires_grad hooks) does not matter here
  if (target instanceof PyDict) {
    let dictState: PyValue = state;
    let slotState: PyValue = null;
    if (isTuple(state) && state.length === 2) [dictState, slotState] = state;
    for (const part of [dictState, slotState]) {
      if (part === null) continue;
      if (!(part instanceof PyDict)) fail(`BUILD state of a dict is a ${typeName(part)}`);
      for (const [k, v] of part as PyDict) {
        if (typeof k !== 'string') fail('BUILD attribute name is not a str');
        (target.attrs ??= new Map()).set(k as string, v);
      }
    }
    return;
  }
  fail(`BUILD on a ${typeName(target)} is not supported`);
}
