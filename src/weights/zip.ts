/**
 * Minimal ZIP reader and writer for torch.save archives.
 *
 * Reading: the central directory (zip64 end-of-central-directory records and zip64 extra fields
 * included) is parsed and every offset and size is checked against the file before anything is
 * sliced. Stored (method 0) entries come back as zero-copy subarrays of the file buffer; compressed
 * entries are refused (torch.save only writes stored entries, aligned to 64 bytes).
 *
 * Writing: stored entries, each data start padded to `align` bytes with an extra field (as torch
 * does), CRC-32s, zip64 records when sizes or offsets need them.
 */
import { ClapError } from '../errors.js';
import { crc32 } from 'node:zlib';
import { quote } from './util.js';

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const EOCD64_LOCATOR_SIZE = 20;
const EOCD64_SIZE = 56;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const ZIP64_EXTRA_ID = 0x0001;
/** Extra-field id torch uses for its alignment padding ("FB"). */
const PAD_EXTRA_ID = 0x4246;

export interface ZipEntry {
  name: string;
  /** Offset of the entry's local header in the file. */
  headerOffset: number;
  /** Offset of the entry's data in the file. */
  dataOffset: number;
  /** Size of the entry's data (stored: compressed = uncompressed). */
  size: number;
  crc32: number;
  method: number;
}

export interface ZipArchive {
  file: string;
  buffer: Uint8Array;
  /** Entries by name, in central-directory order. */
  entries: Map<string, ZipEntry>;
}

function u64(view: DataView, at: number, file: string, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ClapError(`zip: ${what} ${v} is too large`, { subject: file });
  return Number(v);
}

function findEocd(buf: Uint8Array, view: DataView): number {
  const len = buf.length;
  const lowest = Math.max(0, len - EOCD_SIZE - U16_MAX);
  let fallback = -1;
  for (let at = len - EOCD_SIZE; at >= lowest; at--) {
    if (buf[at] !== 0x50 || view.getUint32(at, true) !== SIG_EOCD) continue;
    // Prefer the record whose comment runs exactly to the end of the file.
    if (at + EOCD_SIZE + view.getUint16(at + 20, true) === len) return at;
    if (fallback < 0) fallback = at;
  }
  return fallback;
}

/** Parses the archive in `buffer` (the whole file). Throws a one-line ClapError naming `file` on anything malformed. */
export function readZip(buffer: Uint8Array, file: string): ZipArchive {
  const fail = (msg: string): never => {
    throw new ClapError(msg, { subject: file });
  };
  const len = buffer.length;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  if (len < EOCD_SIZE) fail(`not a zip archive (only ${len} bytes)`);
  const eocd = findEocd(buffer, view);
  if (eocd < 0) {
    fail(
      view.getUint32(0, true) === SIG_LOCAL
        ? 'zip archive is truncated or corrupt (no end-of-central-directory record)'
        : 'not a zip archive (no end-of-central-directory record)',
    );
  }
  let diskNo = view.getUint16(eocd + 4, true);
  let cdDisk = view.getUint16(eocd + 6, true);
  let entriesOnDisk = view.getUint16(eocd + 8, true);
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  /** Where the central directory must end: the first end record. */
  let cdLimit = eocd;

  const locator = eocd - EOCD64_LOCATOR_SIZE;
  if (locator >= 0 && view.getUint32(locator, true) === SIG_EOCD64_LOCATOR) {
    const at = u64(view, locator + 8, file, 'zip64 end record offset');
    if (at + EOCD64_SIZE > locator) fail(`zip64 end-of-central-directory offset ${at} is out of range (corrupt or truncated archive)`);
    if (view.getUint32(at, true) !== SIG_EOCD64) fail(`no zip64 end-of-central-directory record at offset ${at} (corrupt archive)`);
    diskNo = view.getUint32(at + 16, true);
    cdDisk = view.getUint32(at + 20, true);
    entriesOnDisk = u64(view, at + 24, file, 'entry count');
    count = u64(view, at + 32, file, 'entry count');
    cdSize = u64(view, at + 40, file, 'central directory size');
    cdOffset = u64(view, at + 48, file, 'central directory offset');
    cdLimit = at;
  } else if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    fail('zip64 archive without its zip64 end-of-central-directory locator (corrupt or truncated)');
  }
  if (diskNo !== 0 || cdDisk !== 0 || entriesOnDisk !== count) fail('multi-disk (spanned) zip archives are not supported');
  if (cdOffset + cdSize > cdLimit) {
    fail(`central directory (offset ${cdOffset}, ${cdSize} bytes) runs past its end record at ${cdLimit} (corrupt or truncated archive)`);
  }
  if (count * CENTRAL_SIZE > cdSize)
    fail(`central directory of ${cdSize} bytes cannot hold the ${count} entries it claims (corrupt archive)`);

  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8');
  let p = cdOffset;
  const cdEnd = cdOffset + cdSize;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cdEnd || view.getUint32(p, true) !== SIG_CENTRAL) fail(`central directory entry ${i} at offset ${p} is corrupt`);
    const flags = view.getUint16(p + 8, true);
    const method = view.getUint16(p + 10, true);
    const crc = view.getUint32(p + 16, true);
    let compSize = view.getUint32(p + 20, true);
    let size = view.getUint32(p + 24, true);
    const nameLen = view.getUint16(p + 28, true);
    const extraLen = view.getUint16(p + 30, true);
    const commentLen = view.getUint16(p + 32, true);
    const startDisk = view.getUint16(p + 34, true);
    let headerOffset = view.getUint32(p + 42, true);
    const next = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (next > cdEnd) fail(`central directory entry ${i} runs past the central directory (corrupt archive)`);
    const name = decoder.decode(buffer.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    // zip64 extra field: the 64-bit values of the fields that hold 0xFFFFFFFF, in this order.
    let e = p + CENTRAL_SIZE + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = view.getUint16(e, true);
      const sz = view.getUint16(e + 2, true);
      if (e + 4 + sz > extraEnd) fail(`zip entry ${quote(name)}: extra field runs past its record (corrupt archive)`);
      if (id === ZIP64_EXTRA_ID) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + sz) fail(`zip entry ${quote(name)}: zip64 extra field too short for the ${what}`);
          const v = u64(view, q, file, `${what} of ${quote(name)}`);
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = take('size');
        if (compSize === U32_MAX) compSize = take('compressed size');
        if (headerOffset === U32_MAX) headerOffset = take('header offset');
      }
      e += 4 + sz;
    }
    if (startDisk !== 0 && startDisk !== U16_MAX) fail(`zip entry ${quote(name)} is on another disk (spanned archives are not supported)`);
    if (flags & 1) fail(`zip entry ${quote(name)} is encrypted`);
    if (method !== 0) {
      fail(
        `zip entry ${quote(name)} is compressed (method ${method}${method === 8 ? ', deflate' : ''}); ` +
          'only stored entries are supported, as torch.save writes them — was the checkpoint re-zipped?',
      );
    }
    if (compSize !== size) fail(`zip entry ${quote(name)} is stored but its sizes differ (${compSize} vs ${size}; corrupt archive)`);
    if (headerOffset + LOCAL_SIZE > cdOffset || view.getUint32(headerOffset, true) !== SIG_LOCAL) {
      fail(`zip entry ${quote(name)}: no local header at offset ${headerOffset} (corrupt or truncated archive)`);
    }
    const dataOffset = headerOffset + LOCAL_SIZE + view.getUint16(headerOffset + 26, true) + view.getUint16(headerOffset + 28, true);
    if (dataOffset + size > cdOffset) {
      fail(
        `zip entry ${quote(name)} claims ${size} bytes at offset ${dataOffset}, ` +
          `past the ${cdOffset} bytes of entry data in this ${len}-byte file (truncated or corrupt archive)`,
      );
    }
    if (entries.has(name)) fail(`zip entry ${quote(name)} appears twice`);
    entries.set(name, { name, headerOffset, dataOffset, size, crc32: crc, method });
    p = next;
  }

  // Entries must not overlap one another (each from its local header to the end of its data).
  const sorted = [...entries.values()].sort((a, b) => a.headerOffset - b.headerOffset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (prev.dataOffset + prev.size > sorted[i].headerOffset) {
      fail(`zip entries ${quote(prev.name)} and ${quote(sorted[i].name)} overlap (corrupt or malicious archive)`);
    }
  }
  return { file, buffer, entries };
}

/** The data of a stored entry: a zero-copy subarray of the archive buffer. Optionally checks its CRC-32. */
export function zipEntryData(zip: ZipArchive, entry: ZipEntry, opts: { verifyCrc?: boolean } = {}): Uint8Array {
  const data = zip.buffer.subarray(entry.dataOffset, entry.dataOffset + entry.size);
  if (opts.verifyCrc) {
    const got = crc32(data);
    if (got !== entry.crc32) {
      throw new ClapError(`zip entry ${quote(entry.name)} is corrupt (CRC-32 ${hex(got)}, expected ${hex(entry.crc32)})`, {
        subject: zip.file,
      });
    }
  }
  return data;
}

const hex = (v: number): string => `0x${v.toString(16).padStart(8, '0')}`;

// ---------------------------------------------------------------- writer

export interface ZipInput {
  name: string;
  /** The entry's bytes, possibly in several pieces (written back to back, never concatenated). */
  data: Uint8Array | readonly Uint8Array[];
}

export interface ZipWriteOptions {
  /** Data start alignment in bytes (torch uses 64). */
  align?: number;
  /** Write zip64 records and extra fields even when nothing needs them (tests). */
  forceZip64?: boolean;
}

/**
 * Lays out a zip archive of stored entries as a list of chunks to write back to back. Entry data is
 * referenced, not copied, so writing a large archive costs only its headers in extra memory.
 */
export function buildZip(inputs: readonly ZipInput[], opts: ZipWriteOptions = {}): Uint8Array[] {
  const align = opts.align ?? 64;
  const force = opts.forceZip64 ?? false;
  const encoder = new TextEncoder();
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let pos = 0;
  const seen = new Set<string>();
  for (const input of inputs) {
    if (seen.has(input.name)) throw new ClapError(`zip: entry ${quote(input.name)} given twice`);
    seen.add(input.name);
    const pieces = input.data instanceof Uint8Array ? [input.data] : input.data;
    let size = 0;
    let crc = 0;
    for (const piece of pieces) {
      size += piece.byteLength;
      crc = crc32(piece, crc);
    }
    const name = encoder.encode(input.name);
    if (name.length > U16_MAX) throw new ClapError(`zip: entry name ${quote(input.name)} is too long`);
    const big = force || size >= U32_MAX;
    const zip64Local = big ? 20 : 0;
    // Padding extra field so the data starts on an `align` boundary (needs at least its 4-byte header).
    const before = pos + LOCAL_SIZE + name.length + zip64Local;
    const pad = align > 1 ? (align - ((before + 4) % align)) % align : -1;
    const extraLen = zip64Local + (pad >= 0 ? 4 + pad : 0);
    const local = new Uint8Array(LOCAL_SIZE + name.length + extraLen);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, SIG_LOCAL, true);
    lv.setUint16(4, big ? 45 : 20, true);
    lv.setUint16(6, 1 << 11, true); // names are UTF-8
    lv.setUint16(8, 0, true); // stored
    lv.setUint16(10, 0, true); // time
    lv.setUint16(12, (0 << 9) | (1 << 5) | 1, true); // 1980-01-01
    lv.setUint32(14, crc, true);
    lv.setUint32(18, big ? U32_MAX : size, true);
    lv.setUint32(22, big ? U32_MAX : size, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, extraLen, true);
    local.set(name, LOCAL_SIZE);
    let x = LOCAL_SIZE + name.length;
    if (big) {
      lv.setUint16(x, ZIP64_EXTRA_ID, true);
      lv.setUint16(x + 2, 16, true);
      lv.setBigUint64(x + 4, BigInt(size), true);
      lv.setBigUint64(x + 12, BigInt(size), true);
      x += 20;
    }
    if (pad >= 0) {
      lv.setUint16(x, PAD_EXTRA_ID, true);
      lv.setUint16(x + 2, pad, true);
      local.fill(0x5a, x + 4, x + 4 + pad); // 'Z', as torch pads
    }
    const headerOffset = pos;
    chunks.push(local);
    for (const piece of pieces) chunks.push(piece);
    pos += local.length + size;

    const offBig = force || headerOffset >= U32_MAX;
    const c64: number[] = [];
    if (big) c64.push(size, size);
    if (offBig) c64.push(headerOffset);
    const cExtra = c64.length ? 4 + 8 * c64.length : 0;
    const rec = new Uint8Array(CENTRAL_SIZE + name.length + cExtra);
    const cv = new DataView(rec.buffer);
    cv.setUint32(0, SIG_CENTRAL, true);
    cv.setUint16(4, big || offBig ? 45 : 20, true);
    cv.setUint16(6, big || offBig ? 45 : 20, true);
    cv.setUint16(8, 1 << 11, true);
    cv.setUint16(10, 0, true);
    cv.setUint16(12, 0, true);
    cv.setUint16(14, (0 << 9) | (1 << 5) | 1, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, big ? U32_MAX : size, true);
    cv.setUint32(24, big ? U32_MAX : size, true);
    cv.setUint16(28, name.length, true);
    cv.setUint16(30, cExtra, true);
    cv.setUint16(32, 0, true);
    cv.setUint16(34, 0, true);
    cv.setUint16(36, 0, true);
    cv.setUint32(38, 0, true);
    cv.setUint32(42, offBig ? U32_MAX : headerOffset, true);
    rec.set(name, CENTRAL_SIZE);
    if (cExtra) {
      let q = CENTRAL_SIZE + name.length;
      cv.setUint16(q, ZIP64_EXTRA_ID, true);
      cv.setUint16(q + 2, 8 * c64.length, true);
      q += 4;
      for (const v of c64) {
        cv.setBigUint64(q, BigInt(v), true);
        q += 8;
      }
    }
    central.push(rec);
  }
  const cdOffset = pos;
  let cdSize = 0;
  for (const rec of central) cdSize += rec.length;
  for (const rec of central) chunks.push(rec);
  pos += cdSize;
  const count = inputs.length;
  const need64 = force || count >= U16_MAX || cdOffset >= U32_MAX || cdSize >= U32_MAX;
  if (need64) {
    const rec = new Uint8Array(EOCD64_SIZE + EOCD64_LOCATOR_SIZE);
    const v = new DataView(rec.buffer);
    v.setUint32(0, SIG_EOCD64, true);
    v.setBigUint64(4, BigInt(EOCD64_SIZE - 12), true);
    v.setUint16(12, 45, true);
    v.setUint16(14, 45, true);
    v.setUint32(16, 0, true);
    v.setUint32(20, 0, true);
    v.setBigUint64(24, BigInt(count), true);
    v.setBigUint64(32, BigInt(count), true);
    v.setBigUint64(40, BigInt(cdSize), true);
    v.setBigUint64(48, BigInt(cdOffset), true);
    v.setUint32(56, SIG_EOCD64_LOCATOR, true);
    v.setUint32(60, 0, true);
    v.setBigUint64(64, BigInt(pos), true);
    v.setUint32(72, 1, true);
    chunks.push(rec);
    pos += rec.length;
  }
  const end = new Uint8Array(EOCD_SIZE);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, SIG_EOCD, true);
  ev.setUint16(8, need64 ? U16_MAX : count, true);
  ev.setUint16(10, need64 ? U16_MAX : count, true);
  ev.setUint32(12, need64 ? U32_MAX : cdSize, true);
  ev.setUint32(16, need64 ? U32_MAX : cdOffset, true);
  chunks.push(end);
  return chunks;
}
