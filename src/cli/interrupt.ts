/**
 * Ctrl-C for long commands. The first SIGINT (or SIGTERM, what service managers send) aborts a signal:
 * the work stops at its next safe point and the command says what it kept and how to go on, then exits
 * with status 130 (128 + SIGINT, what shells expect). A second one exits at once: everything committed
 * so far stays.
 */

/** Thrown by a command that stopped on Ctrl-C after saying what it kept: `clap` exits with 130. */
export class Interrupted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Interrupted';
  }
}

export const INTERRUPTED_EXIT = 130;

/** Aborts the signal given to `work` on the first SIGINT or SIGTERM while it runs; `note` is printed then. */
export async function onInterrupt<T>(stderr: NodeJS.WritableStream, note: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) {
      stderr.write('\nclap: interrupted again: stopping now (everything committed so far is kept)\n');
      process.exit(INTERRUPTED_EXIT);
    }
    stderr.write(`\nclap: interrupted: ${note} (Ctrl-C again to stop at once)\n`);
    controller.abort();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  }
}
