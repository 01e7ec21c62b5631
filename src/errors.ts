/**
 * The one error type users see. `clap` prints `message` as a single line (no stack unless --debug),
 * so the message names the input (file, key, option) and the problem.
 */
export class ClapError extends Error {
  /** The input the error is about (file path, tensor key, option name), when there is one. */
  readonly subject?: string;

  constructor(message: string, options: { subject?: string; cause?: unknown } = {}) {
    super(options.subject ? `${options.subject}: ${message}` : message, { cause: options.cause });
    this.name = 'ClapError';
    this.subject = options.subject;
  }
}

/** A count with its noun for messages: "1 file", "3 files" (`plural(n, 'class', 'classes')` for other plurals). */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
