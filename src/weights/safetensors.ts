/**
 * safetensors: an 8-byte little-endian header length, a JSON header
 * (`name: {dtype, shape, data_offsets: [begin, end]}` plus optional `__metadata__` of strings),
 * then the tensor bytes. Reading validates everything and returns views into the file buffer.
 */
import { ClapError } from '../errors.js';
import { BYTES_PER_ELEMENT, numel, type DType } from '../engine/tensor.js';
import { assertTensor, toStateDict, type Checkpoint, type StateDict, type StateDictLike } from './state-dict.js';
import {
  asClapError,
  assertLittleEndianHost,
  bytesOf,
  checkedNumel,
  fmtShape,
  oneLine,
  quote,
  readWholeFile,
  typedView,
  writeFileAtomic,
} from './util.js';

/** Largest header accepted (the reference implementation's limit). */
export const MAX_HEADER_BYTES = 100_000_000;

const FROM_ST: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const TO_ST: Record<DType, string> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

/** Loads a .safetensors file: flat name → tensor map. */
export async function loadSafetensors(path: string): Promise<StateDict> {
  return (await loadSafetensorsCheckpoint(path)).tensors;
}

/** Loads a .safetensors file with its `__metadata__`. */
export async function loadSafetensorsCheckpoint(path: string): Promise<Checkpoint> {
  return readSafetensors(await readWholeFile(path), path);
}

/** Parses safetensors bytes; tensors are views into `buf` where aligned. `file` names the source in errors. */
export function readSafetensors(buf: Uint8Array, file = '<buffer>'): Checkpoint {
  return asClapError(file, 'cannot read safetensors file', () => parseSafetensors(buf, file));
}

function parseSafetensors(buf: Uint8Array, file: string): Checkpoint {
  assertLittleEndianHost(file);
  const fail = (msg: string): never => {
    throw new ClapError(msg, { subject: file });
  };
  if (buf.length < 8) fail(`too short for a safetensors file (${buf.length} bytes)`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES))
    fail(`safetensors header claims ${headerLen} bytes, more than the ${MAX_HEADER_BYTES}-byte limit (corrupt file, or not safetensors)`);
  const n = Number(headerLen);
  if (8 + n > buf.length)
    fail(`safetensors header claims ${n} bytes but the file has only ${buf.length - 8} after the length (truncated?)`);
  if (n < 2) fail('safetensors header is empty');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (err) {
    fail(`safetensors header is not valid UTF-8 JSON (${oneLine(String((err as Error).message))})`);
  }
  if (!isObject(header)) return fail('safetensors header is not a JSON object');

  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  let metadata: Record<string, unknown> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  const tensors: StateDict = new Map();
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isObject(info) || Object.values(info).some((v) => typeof v !== 'string'))
        fail('safetensors __metadata__ must map strings to strings');
      metadata = { ...(info as Record<string, string>) };
      continue;
    }
    const where = `tensor ${quote(name)}`;
    if (!isObject(info)) return fail(`${where}: header entry is not an object`);
    const { dtype: st, shape, data_offsets: offsets } = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof st !== 'string') return fail(`${where}: missing dtype`);
    if (!Object.hasOwn(FROM_ST, st)) return fail(`${where}: unsupported dtype ${quote(st)}`);
    const dtype = FROM_ST[st];
    if (!Array.isArray(shape)) return fail(`${where}: shape is not a list`);
    const count = checkedNumel(shape);
    if (count === undefined) return fail(`${where}: invalid shape ${quote(JSON.stringify(shape))}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      return fail(`${where}: data_offsets must be two non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end || end > dataLen)
      fail(`${where}: data_offsets [${begin}, ${end}] fall outside the ${dataLen} bytes of tensor data (truncated or corrupt file)`);
    const bytes = count * BYTES_PER_ELEMENT[dtype];
    if (end - begin !== bytes)
      fail(`${where}: ${st} ${fmtShape(shape as number[])} needs ${bytes} bytes but data_offsets span ${end - begin}`);
    spans.push({ name, begin, end });
    tensors.set(name, { dtype, shape: [...(shape as number[])], data: typedView(buf, dataStart + begin, count, dtype) });
  }
  spans.sort((a, b) => a.begin - b.begin);
  let prev: { name: string; end: number } | undefined;
  for (const s of spans) {
    if (s.begin === s.end) continue;
    if (prev && s.begin < prev.end) fail(`tensors ${quote(prev.name)} and ${quote(s.name)} overlap in the file`);
    prev = s;
  }
  return { tensors, metadata, format: 'safetensors' };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Encodes `sd` as safetensors chunks (header, then the tensors' own bytes, uncopied). Tensors are laid
 * out by decreasing element size so every tensor is aligned; the header is space-padded to 8 bytes.
 */
export function encodeSafetensorsChunks(
  sd: StateDictLike,
  metadata: Readonly<Record<string, string>> = {},
  file = '<buffer>',
): Uint8Array[] {
  const entries = [...toStateDict(sd)];
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new ClapError('tensor name "__metadata__" is reserved in safetensors', { subject: file });
    assertTensor(name, t, file);
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new ClapError(`safetensors metadata ${quote(k)} must be a string`, { subject: file });
  }
  const order = entries
    .map((e, i) => ({ e, i }))
    .sort((a, b) => BYTES_PER_ELEMENT[b.e[1].dtype] - BYTES_PER_ELEMENT[a.e[1].dtype] || a.i - b.i);
  const parts: string[] = [];
  if (Object.keys(metadata).length) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const data: Uint8Array[] = [];
  let offset = 0;
  for (const {
    e: [name, t],
  } of order) {
    const size = numel(t.shape) * BYTES_PER_ELEMENT[t.dtype];
    parts.push(
      `${JSON.stringify(name)}:${JSON.stringify({ dtype: TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + size] })}`,
    );
    data.push(bytesOf(t.data));
    offset += size;
  }
  let header = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(header.length / 8) * 8;
  if (padded > MAX_HEADER_BYTES)
    throw new ClapError(`safetensors header would be ${padded} bytes, over the ${MAX_HEADER_BYTES}-byte limit`, { subject: file });
  if (padded !== header.length) header = Buffer.concat([header, Buffer.alloc(padded - header.length, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  return [len, header, ...data];
}

/** `encodeSafetensorsChunks` joined into one Buffer. */
export function encodeSafetensors(sd: StateDictLike, metadata: Readonly<Record<string, string>> = {}): Buffer {
  return Buffer.concat(encodeSafetensorsChunks(sd, metadata));
}

/** Writes `sd` as a .safetensors file at `path`, atomically (temporary file, then rename). */
export async function saveSafetensors(path: string, sd: StateDictLike, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
  await writeFileAtomic(path, encodeSafetensorsChunks(sd, metadata, path));
}
