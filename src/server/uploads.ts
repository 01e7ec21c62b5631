/**
 * Uploaded audio (dropped on the page, or posted by a program): one file per request, bounded in size
 * (the multipart limit), in duration (decoding stops at the bound), and in how many are processed at
 * once; recognised by content, not by name or declared type; never handed to ffmpeg.
 */
import type { FastifyRequest } from 'fastify';
import type {} from '@fastify/multipart';
import { FORMAT_NAMES, NATIVE_FORMATS, NATIVE_FORMATS_TEXT, sniffAudio, type DecodeOptions } from '../audio/index.js';
import { ClapError } from '../errors.js';
import { HttpError } from './http-error.js';

export interface UploadLimits {
  /** Bytes per uploaded file. */
  bytes: number;
  /** Seconds of audio per uploaded file. */
  seconds: number;
  /** Uploads decoded and embedded at the same time; more are answered 429. */
  concurrent: number;
}

export const DEFAULT_UPLOAD_LIMITS: UploadLimits = { bytes: 32 << 20, seconds: 600, concurrent: 4 };

export interface Upload {
  /** The file name the client gave (for messages only). */
  name: string;
  bytes: Uint8Array;
  /** The other form fields, as strings. */
  fields: Record<string, string>;
  /** How the audio layer must decode it: bounded, and never through ffmpeg. */
  decode: DecodeOptions;
}

const NATIVE = new Set<string>(NATIVE_FORMATS);

/** Keeps a client-given file name printable and short (it only ever appears in messages). */
function cleanName(name: string | undefined): string {
  const s = [...(name ?? '')]
    .filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f)
    .join('')
    .slice(0, 200);
  return s === '' ? 'upload' : s;
}

export class Uploads {
  private active = 0;

  constructor(readonly limits: UploadLimits) {}

  /**
   * Reads the request's one file and its fields, checks the content is audio we decode, and runs `use`
   * on it while counting it against the concurrency bound. Errors decoding it are the upload's (422).
   */
  async with<T>(req: FastifyRequest, use: (upload: Upload) => Promise<T>): Promise<T> {
    if (!req.isMultipart()) throw new HttpError(415, 'send the audio as multipart/form-data with a "file" field');
    if (this.active >= this.limits.concurrent)
      throw new HttpError(429, `${this.active} uploads are being processed; try again in a moment`);
    this.active++;
    try {
      const upload = await this.read(req);
      try {
        return await use(upload);
      } catch (e) {
        if (e instanceof ClapError) throw new HttpError(422, e.message);
        throw e;
      }
    } finally {
      this.active--;
    }
  }

  private async read(req: FastifyRequest): Promise<Upload> {
    const fields: Record<string, string> = {};
    let file: { name: string; bytes: Uint8Array } | undefined;
    for await (const part of req.parts({ limits: { fileSize: this.limits.bytes, files: 1, fields: 16, fieldSize: 64 << 10, parts: 17 } })) {
      if (part.type === 'file') {
        if (part.fieldname !== 'file') {
          part.file.resume();
          throw new HttpError(400, `unexpected file field '${part.fieldname}' (send the audio as "file")`);
        }
        const name = cleanName(part.filename);
        const bytes = await part.toBuffer();
        file = { name, bytes };
      } else {
        fields[part.fieldname] = String(part.value);
      }
    }
    if (!file) throw new HttpError(400, 'no "file" field in the upload');
    if (file.bytes.length === 0) throw new HttpError(400, `${file.name}: the file is empty`);
    let format: string | null;
    try {
      format = sniffAudio(file.bytes, file.name);
    } catch (e) {
      throw new HttpError(415, (e as Error).message);
    }
    if (format === null || !NATIVE.has(format)) {
      const what =
        format === null ? 'not a recognised audio format' : `${FORMAT_NAMES[format as keyof typeof FORMAT_NAMES]} is not accepted`;
      throw new HttpError(415, `${file.name}: ${what} (uploads may be ${NATIVE_FORMATS_TEXT})`);
    }
    return { ...file, fields, decode: { name: file.name, maxSeconds: this.limits.seconds, ffmpeg: false } };
  }
}
