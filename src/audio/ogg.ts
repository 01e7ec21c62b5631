/**
 * Ogg page structure, read from the bytes: where a chained stream's links begin, where a link ends
 * (its last granule position), and whether its last page is complete. The WASM Vorbis and Opus
 * decoders run one link at a time (codecs.ts): across a link boundary they blend the two streams
 * (Vorbis) or lose samples (Opus).
 */
import { ClapError } from '../errors.js';

interface OggPage {
  offset: number;
  /** Header plus body, as the page declares it (may run past the end of a cut file). */
  length: number;
  /** Bit 1: continued packet, bit 2: beginning of stream, bit 4: end of stream. */
  flags: number;
  granule: bigint;
}

const BOS = 0x02;
const EOS = 0x04;

function isCapture(b: Uint8Array, p: number): boolean {
  return b[p] === 0x4f && b[p + 1] === 0x67 && b[p + 2] === 0x67 && b[p + 3] === 0x53 && b[p + 4] === 0;
}

function pageAt(b: Uint8Array, p: number): OggPage {
  const nsegs = b[p + 26] ?? 0;
  let length = 27 + nsegs;
  for (let i = 0; i < nsegs && p + 27 + i < b.length; i++) length += b[p + 27 + i];
  const granule = p + 14 <= b.length ? new DataView(b.buffer, b.byteOffset + p + 6, 8).getBigInt64(0, true) : -1n;
  return { offset: p, length, flags: b[p + 5], granule };
}

/** The pages in order, from the first capture pattern on (junk between pages is skipped). */
function* pages(b: Uint8Array): Generator<OggPage> {
  for (let p = 0; p + 27 <= b.length; ) {
    if (!isCapture(b, p)) {
      p++;
      continue;
    }
    const page = pageAt(b, p);
    yield page;
    p += page.length;
  }
}

/**
 * The links of a chained Ogg stream, each from its beginning-of-stream page(s) to the next link's;
 * one link (the whole input) for an ordinary file.
 */
export function oggLinks(bytes: Uint8Array): Uint8Array[] {
  const starts: number[] = [];
  let previousBos = false;
  for (const page of pages(bytes)) {
    const bos = (page.flags & BOS) !== 0;
    if (bos && !previousBos) starts.push(page.offset);
    previousBos = bos;
  }
  if (starts.length <= 1) return [bytes];
  return starts.map((s, i) => bytes.subarray(i === 0 ? 0 : s, starts[i + 1] ?? bytes.length));
}

/**
 * The granule position of the last page that has one: where the stream ends, in samples (for Opus,
 * before the pre-skip). Null when no page has one. For one link (see oggLinks).
 */
export function lastOggGranule(bytes: Uint8Array): number | null {
  for (let p = bytes.length - 27; p >= 0; p--) {
    if (!isCapture(bytes, p)) continue;
    const granule = pageAt(bytes, p).granule;
    if (granule >= 0n) return Number(granule);
  }
  return null;
}

/**
 * Throws unless the last Ogg page is complete. Its end-of-stream flag is not required: some encoders
 * never set it (e.g. Debian's klettres samples), and such files play completely everywhere else.
 * Returns the last page's granule position when that page lacks the flag (the decoder only trims the
 * final packet's padding at end-of-stream, so the caller trims to it), else null.
 */
export function checkOggComplete(bytes: Uint8Array, what: string, name: string): number | null {
  for (let p = bytes.length - 27; p >= 0; p--) {
    if (!isCapture(bytes, p)) continue;
    const page = pageAt(bytes, p);
    if (p + page.length > bytes.length) break;
    if (page.flags & EOS) return null;
    return page.granule > 0n ? Number(page.granule) : null;
  }
  throw new ClapError(`truncated ${what} stream: the last Ogg page is incomplete`, { subject: name });
}
