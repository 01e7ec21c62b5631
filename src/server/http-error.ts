/** Errors the API answers with: a status code and `{"error": "one clear message"}`. */
import { ClapError } from '../errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Framework errors (validation, body limits, multipart) carry a status code and sometimes a `validation` list. */
interface StatusError extends Error {
  statusCode?: number;
  code?: string;
  validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[];
  validationContext?: string;
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/** Readable reasons for the multipart and body-size errors a client can cause. */
const FRAMEWORK_MESSAGES: Record<string, string> = {
  FST_REQ_FILE_TOO_LARGE: 'the upload is too large',
  FST_FILES_LIMIT: 'too many files in one request (send one file per request)',
  FST_PARTS_LIMIT: 'too many parts in the multipart request',
  FST_FIELDS_LIMIT: 'too many fields in the multipart request',
  FST_PROTO_VIOLATION: 'forbidden field name in the multipart request',
  FST_INVALID_MULTIPART_CONTENT_TYPE: 'send the file as multipart/form-data',
  FST_ERR_CTP_BODY_TOO_LARGE: 'the request body is too large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported content type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the JSON body is empty',
  FST_ERR_CTP_INVALID_JSON_BODY: 'the body is not valid JSON',
};

/**
 * The status and one-line message for any error a handler throws. A ClapError is a problem with the
 * request's input (400) unless the route wrapped it in an HttpError; anything else is a 500.
 */
export function describeError(e: unknown): { status: number; message: string; internal: boolean } {
  if (e instanceof HttpError) return { status: e.status, message: oneLine(e.message), internal: false };
  if (e instanceof ClapError) return { status: 400, message: oneLine(e.message), internal: false };
  const err = e as StatusError;
  if (err?.validation?.length) {
    const v = err.validation[0];
    const where = v.instancePath
      ? v.instancePath.replace(/^\//, '').replace(/\//g, '.')
      : (v.params?.missingProperty as string | undefined);
    const what = err.validationContext === 'querystring' ? 'parameter' : err.validationContext === 'body' ? 'field' : err.validationContext;
    const message = v.params?.missingProperty ? `missing ${what} '${v.params.missingProperty}'` : `${what} '${where}' ${v.message}`;
    return { status: 400, message, internal: false };
  }
  if (err?.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, message: (err.code && FRAMEWORK_MESSAGES[err.code]) || oneLine(err.message), internal: false };
  }
  return { status: 500, message: `internal error: ${oneLine(String(err?.message ?? e))}`, internal: true };
}
