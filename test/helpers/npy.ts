import { closeSync, openSync, readFileSync, readSync } from 'node:fs';

export interface NpyArray {
  dtype: string;
  shape: number[];
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
}

interface NpyHeader {
  dtype: string;
  shape: number[];
  /** Byte offset of the data. */
  offset: number;
}

function parseHeader(buf: Buffer, path: string): NpyHeader {
  if (buf.length < 10 || buf.readUInt32BE(0) !== 0x934e554d) throw new Error(`${path}: not an npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = buf.subarray(start, start + headerLen).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || shapeText === undefined || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${path}: unsupported npy header ${header}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  return { dtype: descr, shape, offset: start + headerLen };
}

/** The dtype and shape of a .npy file, reading only its header. */
export function readNpyHeader(path: string): Omit<NpyHeader, 'offset'> {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4096);
    const n = readSync(fd, buf, 0, buf.length, 0);
    const { dtype, shape } = parseHeader(buf.subarray(0, n), path);
    return { dtype, shape };
  } finally {
    closeSync(fd);
  }
}

/** Reads a NumPy .npy (v1/v2, little-endian, C order) file: the fixtures' format. */
export function readNpy(path: string): NpyArray {
  const buf = readFileSync(path);
  const { dtype: descr, shape, offset } = parseHeader(buf, path);
  const bytes = new Uint8Array(buf.buffer.slice(buf.byteOffset + offset, buf.byteOffset + buf.length));
  const ctor = { '<f4': Float32Array, '<f8': Float64Array, '<i8': BigInt64Array, '<i4': Int32Array, '|u1': Uint8Array, '|b1': Uint8Array }[
    descr
  ];
  if (!ctor) throw new Error(`${path}: unsupported dtype ${descr}`);
  return { dtype: descr, shape, data: new ctor(bytes.buffer) };
}

/** Float view of an npy array (ids become numbers). */
export function npyNumbers(a: NpyArray): Float64Array {
  const out = new Float64Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Number(a.data[i]);
  return out;
}
